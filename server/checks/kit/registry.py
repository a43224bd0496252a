"""The check registry: an explicit, injectable collection of validated checks.

The composition root builds one (``assay.server.checks.builtin_registry()``), may add
third-party checks from the ``assay.checks`` entry-point group with
:meth:`Registry.load_entry_points`, and hands it (with the policy, as a
:class:`~.catalogue.Catalogue`) to the runner and the API. Nothing registers itself at
import time.

Plug-in contract (docs/checks.md, "Writing a check plug-in"): an entry point in group
``assay.checks`` resolves to a :class:`~assay.server.checks.kit.definition.Check` or to an
iterable (list, tuple) of them, e.g. in a plug-in's ``pyproject.toml``::

    [project.entry-points."assay.checks"]
    acme = "acme_checks:CHECKS"          # CHECKS = (check(ACME_DEF)(acme_fn), ...)

A plug-in that fails to import, resolves to something else, or holds an invalid or
duplicate check is reported as a :class:`PluginError` (and logged); the rest still load.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import metadata

from assay.server.checks.kit.definition import Applicability, Check, CheckDefinition, Scope
from assay.server.checks.kit.params import declaration_problems
from assay.server.core.errors import NotFound
from assay.server.core.types import Pillar, Severity

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "assay.checks"
# ^(SEC|REL|PERF|COST|OPS|SUS)-\d{3}$, from the pillars' own prefixes
ID_PATTERN = re.compile(rf"^({'|'.join(p.prefix for p in Pillar)})-\d{{3}}$")


GUIDE = "docs/writing-checks.md in the Assay repository"


class RegistrationError(ValueError):
    """A check's metadata is invalid, or its id is already registered."""


@dataclass(frozen=True, slots=True)
class PluginError:
    """A plug-in (entry point) that could not be loaded, or a check in it that was refused."""

    entry_point: str
    message: str

    def __str__(self) -> str:
        return f"check plug-in {self.entry_point}: {self.message}"


def validate(definition: CheckDefinition) -> None:
    """Raise :class:`RegistrationError` unless ``definition`` is well-formed."""
    problems = []
    if not isinstance(definition.pillar, Pillar):
        problems.append(f"pillar {definition.pillar!r} is not a Pillar")
    if not ID_PATTERN.match(definition.id):
        problems.append(f"id must match {ID_PATTERN.pattern}")
    elif isinstance(definition.pillar, Pillar):
        prefix = definition.id.split("-")[0]
        if prefix != definition.pillar.prefix:
            problems.append(
                f"id prefix {prefix} does not match pillar {definition.pillar} "
                f"(expected {definition.pillar.prefix}-NNN)"
            )
    if not isinstance(definition.severity, Severity):
        problems.append(f"severity {definition.severity!r} is not a Severity")
    for field in ("name", "remediation"):
        value = getattr(definition, field)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{field} is empty")
    try:
        Scope.parse(definition.scope)
    except (ValueError, TypeError) as exc:
        problems.append(str(exc))
    if not all(isinstance(k, str) and k for k in definition.kinds):
        problems.append("kinds must be non-empty kind names")
    if not isinstance(definition.applies_to, Applicability):
        problems.append("applies_to must be an Applicability")
    if not all(isinstance(n, str) and n.strip() for n in definition.notes):
        problems.append("notes must be non-empty sentences")
    problems.extend(declaration_problems(definition.params))
    if problems:
        raise RegistrationError(
            f"check {definition.id!r}: " + "; ".join(problems) + f" (see {GUIDE})"
        )


class Registry:
    """Validated checks by id; iteration and listings are sorted by id."""

    def __init__(self, checks: Iterable[Check] = ()) -> None:
        self._checks: dict[str, Check] = {}
        for item in checks:
            self.register(item)

    def register(self, check: Check) -> Check:
        """Add ``check``; raise :class:`RegistrationError` if invalid or its id is taken."""
        if not isinstance(check, Check):
            raise RegistrationError(
                f"{check!r} is not a Check: build one with a rule helper or "
                f"check(definition)(fn) (see {GUIDE})"
            )
        validate(check.definition)
        if not callable(check.fn):
            raise RegistrationError(f"check {check.id!r}: function is not callable")
        if check.id in self._checks:
            raise RegistrationError(f"check {check.id!r} is already registered")
        self._checks[check.id] = check
        return check

    def get(self, check_id: str) -> Check:
        """The check with ``check_id``; raises :class:`~assay.server.core.errors.NotFound`."""
        try:
            return self._checks[check_id]
        except KeyError:
            raise NotFound("check", check_id) from None

    def all(self) -> list[Check]:
        return [self._checks[i] for i in sorted(self._checks)]

    def ids(self) -> list[str]:
        return sorted(self._checks)

    def by_pillars(self, pillars: Iterable[Pillar]) -> list[Check]:
        """Checks of any of ``pillars``, sorted by id."""
        wanted = frozenset(pillars)
        return [c for c in self.all() if c.definition.pillar in wanted]

    def __contains__(self, check_id: object) -> bool:
        return check_id in self._checks

    def __iter__(self) -> Iterator[Check]:
        return iter(self.all())

    def __len__(self) -> int:
        return len(self._checks)

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> list[PluginError]:
        """Register the checks of every plug-in in ``group``; return (and log) what failed."""
        checks, errors = load_entry_points(group)
        for name, item in checks:
            try:
                self.register(item)
            except RegistrationError as exc:
                errors.append(PluginError(name, str(exc)))
                log.warning("check plug-in %s: %s", name, exc)
        return errors


def load_entry_points(
    group: str = ENTRY_POINT_GROUP,
) -> tuple[list[tuple[str, Check]], list[PluginError]]:
    """The checks offered by installed plug-ins as (entry point, check) pairs, and the
    plug-ins that failed to load. Never raises for a broken plug-in."""
    found: list[tuple[str, Check]] = []
    errors: list[PluginError] = []
    for entry_point in sorted(metadata.entry_points(group=group), key=lambda e: e.name):
        label = f"{entry_point.name} = {entry_point.value}"
        try:
            loaded = entry_point.load()
        except Exception as exc:  # a plug-in's import may fail in any way
            errors.append(PluginError(label, f"cannot load: {type(exc).__name__}: {exc}"))
            log.warning("check plug-in %s cannot load", label, exc_info=True)
            continue
        items = [loaded] if isinstance(loaded, Check) else _as_checks(loaded)
        if items is None:
            message = f"resolves to {type(loaded).__name__}, not a Check or iterable of Checks"
            errors.append(PluginError(label, message))
            log.warning("check plug-in %s %s", label, message)
            continue
        found.extend((label, item) for item in items)
    return found, errors


def _as_checks(value: object) -> list[Check] | None:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        return None
    items = list(value)
    return items if all(isinstance(i, Check) for i in items) else None


def required_kinds(checks: Iterable[Check]) -> frozenset[str]:
    """Every kind ``checks`` read: what the live loader must list."""
    return frozenset(k for c in checks for k in c.definition.kinds)


def required_groups(checks: Iterable[Check]) -> frozenset[str]:
    """Every API group ``checks`` need served live (reported as missing when absent)."""
    return frozenset(g for c in checks for g in c.definition.required_groups)
