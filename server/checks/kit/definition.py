"""What a check is: its metadata, its parameters, what it applies to, and what it returns.

A check is data plus a small function (see docs/checks.md, "Writing a check")::

    SEC_001 = CheckDefinition(id="SEC-001", pillar=Pillar.SECURITY, ..., applies_to=ALL_WORKLOADS)

    @per_container(SEC_001)                       # assay.server.checks.kit.rules
    def privileged(workload, container, ctx) -> Verdict: ...

The rule helpers in :mod:`.rules` turn such a function into a :class:`Check`;
a multi-object check is a plain :class:`CheckFunction` over the :class:`Context` bound with
:func:`check`. Nothing is registered anywhere: a :class:`~.registry.Registry` is given the
checks explicitly, and :func:`~.evaluate.evaluate` applies the rules every check shares.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from assay.server.core.records import fast_record
from assay.server.core.types import ObjectRef, Pillar, Severity, Status
from assay.server.inventory.model import Inventory

METRICS_GROUP = "metrics.k8s.io"
SCOPE_CODES = frozenset("WXNCLM")
_SCOPE_PATTERN = re.compile(r"^([WXNCLM](?:[+/][WXNCLM])*)(?: \(\+([WXNCLM])\))?$")
LIVE_CODES = frozenset({"L", "M"})


@dataclass(frozen=True, slots=True)
class Scope:
    """A parsed catalogue scope code.

    ``X+L`` requires both, ``W/X`` is either (both count as required codes), and a
    parenthesised ``X (+L)`` adds an optional live part that does not stop the check from
    running on manifests.
    """

    required: frozenset[str]
    optional: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, code: str) -> Scope:
        match = _SCOPE_PATTERN.match(code)
        if match is None:
            raise ValueError(
                f"scope {code!r} is not a scope code "
                "(W, X, N, C, L, M joined by '+' or '/', optionally ' (+L)')"
            )
        required = frozenset(re.split(r"[+/]", match.group(1)))
        optional = frozenset({match.group(2)}) if match.group(2) else frozenset()
        return cls(required, optional)

    @property
    def live_only(self) -> bool:
        """Needs a live cluster: ``L`` (live status) or ``M`` (metrics API) is required."""
        return bool(self.required & LIVE_CODES)


@dataclass(frozen=True, slots=True)
class NoParams:
    """The parameters of a check that takes none."""


P = TypeVar("P")
P_co = TypeVar("P_co", covariant=True)
S_contra = TypeVar("S_contra", contravariant=True)


@dataclass(frozen=True, slots=True)
class Context(Generic[P_co]):
    """What a check function is given: the run's inventory and the check's parameters
    (the defaults of its parameter class, or the values a policy file set)."""

    inventory: Inventory
    params: P_co


class Predicate(Protocol[S_contra]):
    def __call__(self, subject: S_contra, ctx: Context[Any], /) -> bool: ...


@dataclass(frozen=True, slots=True)
class Applicability:
    """Which objects a check applies to: a predicate, and the sentence the docs print.

    The rule helpers leave out the objects it rejects (they give no result at all); when
    no object applies, the check gives its single ``skipped`` "nothing to assess" result.
    The predicate sees the rule's subject (a :class:`~assay.server.inventory.Workload` for
    workload and container rules, the raw object for object rules) and the context.
    """

    description: str
    predicate: Predicate[Any] | None = None

    def applies(self, subject: object, ctx: Context[Any]) -> bool:
        return self.predicate is None or self.predicate(subject, ctx)

    def __and__(self, other: Applicability) -> Applicability:
        first, second = self.predicate, other.predicate

        def both(subject: object, ctx: Context[Any]) -> bool:
            return (first is None or first(subject, ctx)) and (
                second is None or second(subject, ctx)
            )

        return Applicability(f"{self.description}, {other.description}", both)


EVERYTHING = Applicability("every object of the kinds it reads")


@dataclass(frozen=True, slots=True)
class CheckDefinition:
    """A check's metadata; validated when registered (see :mod:`.registry`).

    ``kinds`` are the kinds the check reads (the live loader lists their union); ``needs``
    are API groups (``metrics.k8s.io``) or group versions (``autoscaling/v2``) that must be
    served live for the check to mean anything. ``params`` is a frozen dataclass whose
    fields (all with defaults) are the check's parameters; a policy file may set them.
    ``notes`` are extra sentences for the generated docs: how the row compares with other
    tools, and readings of the Kubernetes API the check relies on.
    """

    id: str
    pillar: Pillar
    name: str
    description: str
    severity: Severity
    scope: str
    remediation: str
    kinds: tuple[str, ...] = ()
    needs: frozenset[str] = frozenset()
    applies_to: Applicability = EVERYTHING
    params: type[Any] = NoParams
    notes: tuple[str, ...] = ()

    @property
    def parsed_scope(self) -> Scope:
        """The scope code parsed; raises ``ValueError`` for a malformed code."""
        return Scope.parse(self.scope)

    @property
    def required_groups(self) -> frozenset[str]:
        """``needs``, plus ``metrics.k8s.io`` for an ``M``-scope check."""
        if "M" in self.parsed_scope.required:
            return self.needs | {METRICS_GROUP}
        return self.needs

    def default_params(self) -> Any:
        return self.params()


# The statuses as module globals for the constructors below, which run once per result:
# on Python 3.11 reading ``Status.PASSING`` goes through ``EnumType.__getattr__``'s hook,
# 0.25 µs a read, about what the Verdict itself now costs to build.
_PASSING, _FAILING, _WARNING, _SKIPPED = (
    Status.PASSING,
    Status.FAILING,
    Status.WARNING,
    Status.SKIPPED,
)


@fast_record
@dataclass(frozen=True, slots=True)
class Finding:
    """One result of a check: about an object (and container), or the cluster (``None``).

    ``severity`` is set only when this finding is graver (or milder) than the check's
    default, as a row may say ("critical if mounted writable"); ``exempted`` marks a
    ``skipped`` finding that an exemption made so (see :mod:`.exemptions`).
    """

    status: Status
    object: ObjectRef | None
    container: str = ""
    message: str = ""
    severity: Severity | None = None
    exempted: bool = False

    @classmethod
    def passing(cls, obj: ObjectRef | None, message: str, container: str = "") -> Finding:
        return cls(_PASSING, obj, container, message)

    @classmethod
    def failing(
        cls,
        obj: ObjectRef | None,
        message: str,
        container: str = "",
        *,
        severity: Severity | None = None,
    ) -> Finding:
        return cls(_FAILING, obj, container, message, severity)

    @classmethod
    def warning(
        cls,
        obj: ObjectRef | None,
        message: str,
        container: str = "",
        *,
        severity: Severity | None = None,
    ) -> Finding:
        return cls(_WARNING, obj, container, message, severity)

    @classmethod
    def skipped(cls, obj: ObjectRef | None, message: str, container: str = "") -> Finding:
        return cls(_SKIPPED, obj, container, message)


@fast_record
@dataclass(frozen=True, slots=True)
class Verdict:
    """What a rule says about its one subject; the rule helper adds the object and
    container and turns it into a :class:`Finding`."""

    status: Status
    message: str
    severity: Severity | None = None

    def about(self, obj: ObjectRef, container: str = "") -> Finding:
        return Finding(self.status, obj, container, self.message, self.severity)


def ok(message: str) -> Verdict:
    return Verdict(_PASSING, message)


def fail(message: str, *, severity: Severity | None = None) -> Verdict:
    return Verdict(_FAILING, message, severity)


def warn(message: str, *, severity: Severity | None = None) -> Verdict:
    return Verdict(_WARNING, message, severity)


def skip(message: str) -> Verdict:
    """The subject cannot be judged (say why): a ``skipped`` result about it."""
    return Verdict(_SKIPPED, message)


def problems_or_ok(problems: Iterable[str], passing: str) -> Verdict:
    """Failing with the problems joined by ``; ``, or passing with ``passing``."""
    found = list(problems)
    return fail("; ".join(found)) if found else ok(passing)


class CheckFunction(Protocol):
    """The body of a check: findings from the run's inventory and the check's parameters."""

    def __call__(self, ctx: Context[Any], /) -> Iterable[Finding]: ...


@dataclass(frozen=True, slots=True)
class Check:
    """A definition and its function. :func:`~.evaluate.evaluate` gives its results with
    the shared rules applied; :meth:`run` is the bare function."""

    definition: CheckDefinition
    fn: CheckFunction
    shape: str = "custom"
    """How the function was built: ``container``, ``workload``, ``object`` or ``custom``."""

    @property
    def id(self) -> str:
        return self.definition.id

    def run(self, inventory: Inventory, params: object | None = None) -> list[Finding]:
        values = self.definition.default_params() if params is None else params
        return list(self.fn(Context(inventory, values)))


def check(definition: CheckDefinition) -> Callable[[CheckFunction], Check]:
    """Pair ``definition`` with a plain function: ``check(DEF)(fn)`` returns a :class:`Check`.

    For multi-object checks that walk the inventory's indexes themselves; they should yield
    findings only for the objects ``definition.applies_to`` accepts.
    """

    def bind(fn: CheckFunction) -> Check:
        return Check(definition, fn)

    return bind


def param_fields(params: type[Any]) -> tuple[dataclasses.Field[Any], ...]:
    """The fields of a parameter class (empty for :class:`NoParams`)."""
    return dataclasses.fields(params) if dataclasses.is_dataclass(params) else ()
