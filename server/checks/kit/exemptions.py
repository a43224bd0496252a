"""Exemptions: results that an annotation or a policy rule turns into ``skipped``.

Two sources, applied by :func:`~.evaluate.evaluate` to every check's findings:

* annotations on the object or its pod template::

      assay.kubernaut.ai/exempt: "SEC-001, REL-004"      # or "all"
      assay.kubernaut.ai/exempt.<container>: "SEC-003"   # that container's results only
      assay.kubernaut.ai/exempt-reason: "node agent"

  (ignored when the server is configured not to honour in-object exemptions);
* :class:`ExemptionRule` entries of the policy file (by check ids, namespace, kind, name and
  container, with a required reason and an optional expiry date).

An exempt result keeps its object and says why it is exempt and what it would have been;
it is marked ``exempted`` so summaries count exemptions apart from other skipped results. A
rule past its ``expires`` date no longer applies: the result says so, and the rule is
reported once through ``on_expired`` (the server logs it).

Cost: the annotations of the inventory are read once per inventory (memoised on it), and a
check that no annotation and no rule names does no per-finding work at all.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from assay.server.checks.kit.definition import Finding
from assay.server.core.types import Status
from assay.server.inventory.model import Inventory
from assay.server.inventory.raw import annotations_of, name_of, namespace_of

EXEMPT_ANNOTATION = "assay.kubernaut.ai/exempt"
EXEMPT_REASON_ANNOTATION = "assay.kubernaut.ai/exempt-reason"
CONTAINER_PREFIX = EXEMPT_ANNOTATION + "."
ALL = "ALL"
_SPLIT = re.compile(r"[,\s]+")


def parse_ids(value: object) -> frozenset[str]:
    """``"sec-001, REL-004"`` -> ``{"SEC-001", "REL-004"}`` (``ALL`` for every check)."""
    if not isinstance(value, str):
        return frozenset()
    return frozenset(part.upper() for part in _SPLIT.split(value) if part)


def _covers(ids: frozenset[str], check_id: str) -> bool:
    return ALL in ids or check_id in ids


@dataclass(frozen=True, slots=True)
class Glob:
    """A shell-style pattern (``cart*``) matched case-sensitively, as Kubernetes names are."""

    pattern: str
    _regex: re.Pattern[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_regex", re.compile(fnmatch.translate(self.pattern)))

    def __call__(self, value: str) -> bool:
        return self._regex.match(value) is not None


@dataclass(frozen=True, slots=True)
class ExemptionRule:
    """One ``exemptions`` entry of a policy file; unset criteria match anything.

    A rule with a namespace, kind or name only matches results about an object; a rule with
    a container only matches container results (``"*"`` matches any container, or none).
    """

    checks: frozenset[str]
    reason: str
    namespace: Glob | None = None
    kind: str | None = None
    name: Glob | None = None
    container: Glob | None = None
    expires: date | None = None
    origin: str = ""
    """Where the rule was written (``policy.yaml:14``), for messages and logs."""

    def covers(self, check_id: str) -> bool:
        return _covers(self.checks, check_id)

    def matches(self, finding: Finding) -> bool:
        ref = finding.object
        if ref is None:
            if self.namespace or self.kind or self.name:
                return False
        else:
            if self.namespace is not None and not self.namespace(ref.namespace):
                return False
            if self.kind is not None and self.kind != ref.kind:
                return False
            if self.name is not None and not self.name(ref.name):
                return False
        if self.container is not None:
            if self.container.pattern == "*":
                return True
            return bool(finding.container) and self.container(finding.container)
        return True

    def expired(self, today: date) -> bool:
        return self.expires is not None and today > self.expires


@dataclass(frozen=True, slots=True)
class AnnotatedExemption:
    """The exemption annotations of one object and its pod template, merged."""

    ids: frozenset[str]
    containers: Mapping[str, frozenset[str]]
    reason: str

    def covers(self, check_id: str, container: str) -> bool:
        if _covers(self.ids, check_id):
            return True
        return bool(container) and _covers(self.containers.get(container, frozenset()), check_id)


def annotation_index(inventory: Inventory) -> Mapping[tuple[str, str, str], AnnotatedExemption]:
    """Every object (kind, namespace, name) that carries exemption annotations, on itself or
    on its pod template; computed once per inventory."""
    return inventory.memo("kit:exemption-annotations", lambda: _build_index(inventory))


def _build_index(inventory: Inventory) -> dict[tuple[str, str, str], AnnotatedExemption]:
    found: dict[tuple[str, str, str], list[Mapping[str, str]]] = {}
    for kind in inventory.kinds():
        for obj in inventory.objects(kind):
            notes = annotations_of(obj)
            if any(key.startswith(EXEMPT_ANNOTATION) for key in notes):
                found.setdefault((kind, namespace_of(obj), name_of(obj)), []).append(notes)
    for workload in inventory.workloads(include_owned=True):
        if workload.kind == "Pod":
            continue  # a Pod's template is the Pod itself
        notes = workload.template_annotations
        if any(key.startswith(EXEMPT_ANNOTATION) for key in notes):
            key = (workload.kind, workload.namespace, workload.name)
            found.setdefault(key, []).append(notes)
    return {key: _merge(sources) for key, sources in found.items()}


def _merge(sources: Iterable[Mapping[str, str]]) -> AnnotatedExemption:
    ids: set[str] = set()
    containers: dict[str, set[str]] = {}
    reason = ""
    for notes in sources:
        ids |= parse_ids(notes.get(EXEMPT_ANNOTATION))
        for key, value in notes.items():
            if key.startswith(CONTAINER_PREFIX) and len(key) > len(CONTAINER_PREFIX):
                containers.setdefault(key[len(CONTAINER_PREFIX) :], set()).update(parse_ids(value))
        reason = reason or str(notes.get(EXEMPT_REASON_ANNOTATION) or "").strip()
    return AnnotatedExemption(
        frozenset(ids),
        {name: frozenset(v) for name, v in containers.items()},
        reason or "no reason given",
    )


class Exemptions:
    """The exemptions of one run: the policy's rules and (unless turned off) annotations."""

    def __init__(
        self,
        inventory: Inventory,
        *,
        rules: Sequence[ExemptionRule] = (),
        honour_annotations: bool = True,
        today: date | None = None,
        on_expired: Callable[[ExemptionRule], None] = lambda rule: None,
    ) -> None:
        self._index = annotation_index(inventory) if honour_annotations else {}
        self._rules = tuple(rules)
        self._today = today or date.today()
        self._on_expired = on_expired

    def apply(self, check_id: str, findings: list[Finding]) -> list[Finding]:
        """``findings`` with those about exempt objects turned into ``skipped`` results."""
        rules = [r for r in self._rules if r.covers(check_id)]
        index = self._index
        if not rules and not index:
            return findings
        return [self._one(check_id, f, rules, index) for f in findings]

    def _one(
        self,
        check_id: str,
        finding: Finding,
        rules: Sequence[ExemptionRule],
        index: Mapping[tuple[str, str, str], AnnotatedExemption],
    ) -> Finding:
        ref = finding.object
        if ref is not None and index:
            annotated = index.get((ref.kind, ref.namespace, ref.name))
            if annotated is not None and annotated.covers(check_id, finding.container):
                return _exempt(finding, f"annotation {EXEMPT_ANNOTATION}", annotated.reason)
        expired: ExemptionRule | None = None
        for rule in rules:
            if not rule.matches(finding):
                continue
            if rule.expired(self._today):
                expired = expired or rule
                continue
            return _exempt(finding, f"policy {rule.origin}".strip(), rule.reason)
        if expired is not None and finding.status is not Status.SKIPPED:
            self._on_expired(expired)
            note = f"exemption ({expired.origin}) expired on {expired.expires}: {expired.reason}"
            message = f"{finding.message} [{note}]" if finding.message else note
            return dataclasses.replace(finding, message=message)
        return finding


def _exempt(finding: Finding, source: str, reason: str) -> Finding:
    message = f"exempt ({source}): {reason}; would be {finding.status}"
    if finding.message:
        message += f": {finding.message}"
    return dataclasses.replace(finding, status=Status.SKIPPED, message=message, exempted=True)
