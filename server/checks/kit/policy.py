"""The policy file: per-check switches, severities and parameters, and exemption rules.

Loaded once by the composition root (``ASSAY_POLICY`` / ``assay serve --policy``) and
validated against the registry before anything listens::

    checks:
      SEC-001: {severity: low}
      REL-001: {enabled: false}
      SEC-005: {params: {capabilities: [ALL, SYS_ADMIN, NET_ADMIN, BPF]}}
    pillars:
      sustainability: {enabled: false}       # every SUS check, unless a check says otherwise
    exemptions:
      - checks: [SEC-003]                    # or [all]
        namespace: shop                      # globs allowed in namespace, name, container
        kind: Deployment
        name: "cart*"
        container: "*"
        reason: vendor image runs as root; tracked with the vendor
        expires: 2027-03-31                  # after this day the rule no longer applies

Every problem (unknown check id, parameter or field, wrong type, rule without reason,
duplicate key) is reported with the file, line and key in one :class:`PolicyError`.
docs/policy.md is the reference for users.
"""

from __future__ import annotations

import datetime
import difflib
import logging
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from assay.server.checks.kit.definition import CheckDefinition
from assay.server.checks.kit.exemptions import ALL, ExemptionRule, Glob
from assay.server.checks.kit.params import ParamError, build_params
from assay.server.checks.kit.registry import Registry
from assay.server.core.errors import AssayError
from assay.server.core.types import Pillar, Severity

log = logging.getLogger(__name__)

MAX_POLICY_BYTES = 1 << 20
MAX_NODES = 100_000
"""Nodes visited while reading a policy, aliases included: a bound on alias expansion."""


@dataclass(frozen=True, slots=True)
class PolicyProblem:
    line: int
    key: str
    message: str

    def render(self, source: str) -> str:
        return f"{source}, line {self.line}, {self.key}: {self.message}"


class PolicyError(AssayError):
    """The policy file is unusable; the server does not start. Carries every problem."""

    def __init__(self, source: str, problems: list[PolicyProblem]) -> None:
        self.source = source
        self.problems = problems
        first = problems[0].render(f"policy file {source}")
        more = len(problems) - 1
        super().__init__(first + (f" (and {more} more problem{'s' * (more > 1)})" if more else ""))


@dataclass(frozen=True, slots=True)
class CheckPolicy:
    """What the policy says of one check; ``None`` fields leave the default."""

    enabled: bool | None = None
    severity: Severity | None = None
    params: Any = None


@dataclass(frozen=True)
class Policy:
    checks: Mapping[str, CheckPolicy] = field(default_factory=dict)
    disabled_pillars: frozenset[Pillar] = frozenset()
    exemptions: tuple[ExemptionRule, ...] = ()
    source: str = ""
    _reported: set[str] = field(default_factory=set, compare=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    def enabled(self, definition: CheckDefinition) -> bool:
        chosen = self.checks.get(definition.id, _DEFAULT).enabled
        if chosen is not None:
            return chosen
        return definition.pillar not in self.disabled_pillars

    def severity(self, definition: CheckDefinition) -> Severity:
        return self.override(definition) or definition.severity

    def override(self, definition: CheckDefinition) -> Severity | None:
        """The severity set for the check, if any: it applies to every result of it."""
        return self.checks.get(definition.id, _DEFAULT).severity

    def params(self, definition: CheckDefinition) -> Any:
        chosen = self.checks.get(definition.id, _DEFAULT).params
        return definition.default_params() if chosen is None else chosen

    def report_expired(self, rule: ExemptionRule) -> None:
        """Log an expired exemption rule, once per rule for the life of the policy."""
        with self._lock:
            if rule.origin in self._reported:
                return
            self._reported.add(rule.origin)
        log.warning(
            "exemption rule %s expired on %s and no longer applies (%s)",
            rule.origin,
            rule.expires,
            rule.reason,
        )


_DEFAULT = CheckPolicy()
EMPTY_POLICY = Policy()


def load_policy(path: str | Path, registry: Registry) -> Policy:
    """Read and validate the policy file at ``path``; :class:`PolicyError` if unusable."""
    source = str(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_POLICY_BYTES + 1)
    except OSError as exc:
        raise PolicyError(source, [PolicyProblem(0, "file", exc.strerror or str(exc))]) from exc
    if len(raw) > MAX_POLICY_BYTES:
        problem = PolicyProblem(0, "file", f"larger than {MAX_POLICY_BYTES} bytes")
        raise PolicyError(source, [problem])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PolicyError(source, [PolicyProblem(0, "file", f"not UTF-8: {exc}")]) from exc
    return parse_policy(text, registry, source=Path(path).name)


def parse_policy(text: str, registry: Registry, *, source: str = "policy") -> Policy:
    """Validate policy YAML ``text`` against ``registry``; :class:`PolicyError` if invalid."""
    reader = _Reader(source, registry)
    policy = reader.read(text)
    if reader.problems:
        raise PolicyError(source, reader.problems)
    return policy


class _Reader:
    """Walks the composed YAML nodes, so every value keeps its line for the error."""

    def __init__(self, source: str, registry: Registry) -> None:
        self.source = source
        self.registry = registry
        self.problems: list[PolicyProblem] = []
        self._visited = 0
        self._constructor = yaml.SafeLoader("")

    def read(self, text: str) -> Policy:
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else 0
            self.problem(line, "file", f"not valid YAML: {getattr(exc, 'problem', exc)}")
            return EMPTY_POLICY
        if root is None:
            return Policy(source=self.source)
        top = self.mapping(root, "policy")
        checks: dict[str, CheckPolicy] = {}
        disabled: set[Pillar] = set()
        exemptions: list[ExemptionRule] = []
        for key, key_node, value in top:
            if key == "checks":
                checks = self.checks(value)
            elif key == "pillars":
                disabled = self.pillars(value)
            elif key == "exemptions":
                exemptions = self.exemptions(value)
            elif key == "version":
                if self.scalar(value, "version") != 1:
                    self.problem(value.start_mark.line + 1, "version", "only version 1 exists")
            else:
                self.unknown(key_node, key, ("checks", "pillars", "exemptions", "version"))
        return Policy(checks, frozenset(disabled), tuple(exemptions), self.source)

    # -- sections --------------------------------------------------------------------------

    def checks(self, node: yaml.Node) -> dict[str, CheckPolicy]:
        found: dict[str, CheckPolicy] = {}
        for check_id, key_node, value in self.mapping(node, "checks"):
            key = f"checks.{check_id}"
            if check_id not in self.registry:
                self.unknown(key_node, key, self.registry.ids(), what="check id")
                continue
            definition = self.registry.get(check_id).definition
            found[check_id] = self.check(definition, value, key)
        return found

    def check(self, definition: CheckDefinition, node: yaml.Node, key: str) -> CheckPolicy:
        enabled: bool | None = None
        severity: Severity | None = None
        params: Any = None
        for name, name_node, value in self.mapping(node, key):
            where = f"{key}.{name}"
            if name == "enabled":
                enabled = self.boolean(value, where)
            elif name == "severity":
                severity = self.choice(value, where, Severity)
            elif name == "params":
                params = self.params(definition, value, where)
            else:
                self.unknown(name_node, where, ("enabled", "severity", "params"))
        return CheckPolicy(enabled, severity, params)

    def params(self, definition: CheckDefinition, node: yaml.Node, key: str) -> Any:
        lines: dict[str, int] = {}
        values: dict[str, object] = {}
        for name, name_node, value in self.mapping(node, key):
            lines[name] = name_node.start_mark.line + 1
            values[name] = self.plain(value)
        try:
            return build_params(definition.params, values)
        except ParamError as exc:
            name = exc.key.split("[")[0]
            self.problem(lines.get(name, node.start_mark.line + 1), f"{key}.{exc.key}", exc.message)
            return None

    def pillars(self, node: yaml.Node) -> set[Pillar]:
        disabled: set[Pillar] = set()
        for name, name_node, value in self.mapping(node, "pillars"):
            key = f"pillars.{name}"
            try:
                pillar = Pillar(name)
            except ValueError:
                self.unknown(name_node, key, [str(p) for p in Pillar], what="pillar")
                continue
            for option, option_node, setting in self.mapping(value, key):
                if option == "enabled":
                    if self.boolean(setting, f"{key}.enabled") is False:
                        disabled.add(pillar)
                else:
                    self.unknown(option_node, f"{key}.{option}", ("enabled",))
        return disabled

    def exemptions(self, node: yaml.Node) -> list[ExemptionRule]:
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node.start_mark.line + 1, "exemptions", "expected a list of rules")
            return []
        rules = []
        for index, item in enumerate(node.value):
            rule = self.exemption(item, f"exemptions[{index}]")
            if rule is not None:
                rules.append(rule)
        return rules

    def exemption(self, node: yaml.Node, key: str) -> ExemptionRule | None:
        line = node.start_mark.line + 1
        fields: dict[str, Any] = {}
        checks: frozenset[str] = frozenset()
        for name, name_node, value in self.mapping(node, key):
            where = f"{key}.{name}"
            if name == "checks":
                checks = self.check_ids(value, where)
            elif name in ("namespace", "kind", "name", "container", "reason"):
                text = self.text(value, where)
                if text is not None:
                    fields[name] = text
            elif name == "expires":
                fields[name] = self.date(value, where)
            else:
                allowed = ("checks", "namespace", "kind", "name", "container", "reason", "expires")
                self.unknown(name_node, where, allowed)
        ok = True
        if not checks:
            self.problem(line, f"{key}.checks", "required: the check ids it exempts, or [all]")
            ok = False
        if not str(fields.get("reason", "")).strip():
            self.problem(line, f"{key}.reason", "required: say why these results are exempt")
            ok = False
        if not ok:
            return None
        globs = {k: Glob(fields[k]) for k in ("namespace", "name", "container") if k in fields}
        return ExemptionRule(
            checks=checks,
            reason=fields["reason"].strip(),
            kind=fields.get("kind"),
            expires=fields.get("expires"),
            origin=f"{self.source}:{line}",
            **globs,
        )

    def check_ids(self, node: yaml.Node, key: str) -> frozenset[str]:
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node.start_mark.line + 1, key, "expected a list of check ids or [all]")
            return frozenset()
        ids = set()
        for index, item in enumerate(node.value):
            value = self.scalar(item, f"{key}[{index}]")
            text = str(value).strip().upper() if isinstance(value, str) else ""
            if text == ALL or text in self.registry:
                ids.add(text)
            else:
                self.unknown(item, f"{key}[{index}]", self.registry.ids(), what="check id")
        return frozenset(ids)

    # -- typed leaves ------------------------------------------------------------------------

    def boolean(self, node: yaml.Node, key: str) -> bool | None:
        value = self.scalar(node, key)
        if isinstance(value, bool):
            return value
        self.problem(node.start_mark.line + 1, key, f"expected true or false, got {value!r}")
        return None

    def choice(self, node: yaml.Node, key: str, kind: type[Severity]) -> Severity | None:
        value = self.scalar(node, key)
        try:
            return kind(str(value))
        except ValueError:
            options = ", ".join(str(v) for v in kind)
            self.problem(node.start_mark.line + 1, key, f"expected one of {options}, got {value!r}")
            return None

    def text(self, node: yaml.Node, key: str) -> str | None:
        value = self.scalar(node, key)
        if isinstance(value, str) and value.strip() and "\x00" not in value:
            return value
        self.problem(node.start_mark.line + 1, key, f"expected a non-empty string, got {value!r}")
        return None

    def date(self, node: yaml.Node, key: str) -> datetime.date | None:
        value = self.scalar(node, key)
        if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
            return value
        if isinstance(value, str):
            try:
                return datetime.date.fromisoformat(value.strip())
            except ValueError:
                pass
        self.problem(node.start_mark.line + 1, key, f"expected a date YYYY-MM-DD, got {value!r}")
        return None

    # -- node walking ------------------------------------------------------------------------

    def mapping(self, node: yaml.Node, key: str) -> Iterator[tuple[str, yaml.Node, yaml.Node]]:
        """(key, key node, value node) of a mapping node; problems for anything else."""
        self._count()
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            return
        if not isinstance(node, yaml.MappingNode):
            self.problem(node.start_mark.line + 1, key, "expected a mapping")
            return
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            name = self.scalar(key_node, key)
            line = key_node.start_mark.line + 1
            if not isinstance(name, str):
                self.problem(line, key, f"keys must be strings, got {name!r}")
                continue
            if name in seen:
                self.problem(line, f"{key}.{name}", f"duplicate key (first on line {seen[name]})")
                continue
            seen[name] = line
            yield name, key_node, value_node

    def scalar(self, node: yaml.Node, key: str) -> object:
        self._count()
        if not isinstance(node, yaml.ScalarNode):
            self.problem(node.start_mark.line + 1, key, "expected a single value")
            return None
        return self._constructor.construct_object(node)

    def plain(self, node: yaml.Node) -> object:
        """Plain data below ``node`` (lists, mappings, scalars), with a bound on size."""
        self._count()
        if isinstance(node, yaml.ScalarNode):
            return self._constructor.construct_object(node)
        if isinstance(node, yaml.SequenceNode):
            return [self.plain(item) for item in node.value]
        if isinstance(node, yaml.MappingNode):
            return {str(self.plain(k)): self.plain(v) for k, v in node.value}
        return None

    def _count(self) -> None:
        self._visited += 1
        if self._visited > MAX_NODES:
            raise PolicyError(
                self.source,
                [PolicyProblem(0, "file", f"more than {MAX_NODES} values (aliases included)")],
            )

    def problem(self, line: int, key: str, message: str) -> None:
        self.problems.append(PolicyProblem(line, key, message))

    def unknown(self, node: yaml.Node, key: str, known: Any, *, what: str = "field") -> None:
        name = key.rsplit(".", 1)[-1]
        close = difflib.get_close_matches(name, list(known), n=1)
        hint = f"; did you mean {close[0]}?" if close else f" (known: {', '.join(known)})"
        if what == "check id" and not close:
            hint = ""
        self.problem(node.start_mark.line + 1, key, f"unknown {what}{hint}")
