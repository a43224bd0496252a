"""The check API: what a check is, what it returns, and how one is evaluated.

A check is data plus a small pure function (see STYLE.md, item 4)::

    SEC_001 = CheckDefinition(id="SEC-001", pillar=Pillar.SECURITY, ...)

    def privileged(inventory: Inventory) -> Iterator[Finding]: ...

    PRIVILEGED = check(SEC_001)(privileged)        # a Check; nothing is registered

Check modules build :class:`Check` values; a :class:`~assay.server.checks.kit.registry.Registry`
collects them; the runner calls :func:`evaluate` for each, which applies the rules every
check shares, once, here:

* a check whose scope needs live data (``L``, ``M``) returns one ``skipped`` result on a
  manifest inventory, and one whose API groups are absent live (``metrics.k8s.io`` for
  ``M``) returns one ``skipped`` result naming them;
* a check that found nothing to look at returns one ``skipped`` result;
* results about an object annotated ``assay.kubernaut.ai/exempt`` (on the object or its pod
  template) with the check's id or ``all`` become ``skipped`` with the recorded reason,
  unless the caller disables in-object exemptions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from assay.server.core.types import ObjectRef, Pillar, Severity, Source, Status
from assay.server.inventory.model import Inventory
from assay.server.inventory.raw import as_mapping, metadata
from assay.server.inventory.workloads import workload_of

EXEMPT_ANNOTATION = "assay.kubernaut.ai/exempt"
EXEMPT_REASON_ANNOTATION = "assay.kubernaut.ai/exempt-reason"
METRICS_GROUP = "metrics.k8s.io"

SCOPE_CODES = frozenset("WXNCLM")
_SCOPE_PATTERN = re.compile(r"^([WXNCLM](?:[+/][WXNCLM])*)(?: \(\+([WXNCLM])\))?$")
_LIVE_CODES = frozenset({"L", "M"})


@dataclass(frozen=True, slots=True)
class Scope:
    """A parsed CHECKS.md scope code.

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
                f"scope {code!r} is not a CHECKS.md scope code "
                "(W, X, N, C, L, M joined by '+' or '/', optionally ' (+L)')"
            )
        required = frozenset(re.split(r"[+/]", match.group(1)))
        optional = frozenset({match.group(2)}) if match.group(2) else frozenset()
        return cls(required, optional)

    @property
    def live_only(self) -> bool:
        """Needs a live cluster: ``L`` (live status) or ``M`` (metrics API) is required."""
        return bool(self.required & _LIVE_CODES)


@dataclass(frozen=True, slots=True)
class CheckDefinition:
    """A check's metadata; validated when registered.

    ``kinds`` are the kinds the check reads (the live loader lists their union); ``needs``
    are API groups (``metrics.k8s.io``) or group versions (``autoscaling/v2``) that must be
    served live for the check to mean anything.
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


@dataclass(frozen=True, slots=True)
class Finding:
    """One verdict of a check: about an object (and container), or the cluster (``None``)."""

    status: Status
    object: ObjectRef | None
    container: str = ""
    message: str = ""

    @classmethod
    def passing(cls, obj: ObjectRef | None, message: str, container: str = "") -> Finding:
        return cls(Status.PASSING, obj, container, message)

    @classmethod
    def failing(cls, obj: ObjectRef | None, message: str, container: str = "") -> Finding:
        return cls(Status.FAILING, obj, container, message)

    @classmethod
    def warning(cls, obj: ObjectRef | None, message: str, container: str = "") -> Finding:
        return cls(Status.WARNING, obj, container, message)

    @classmethod
    def skipped(cls, obj: ObjectRef | None, message: str, container: str = "") -> Finding:
        return cls(Status.SKIPPED, obj, container, message)


class CheckFunction(Protocol):
    """The body of a check: a pure function of the inventory."""

    def __call__(self, inventory: Inventory, /) -> Iterable[Finding]: ...


@dataclass(frozen=True, slots=True)
class Check:
    """A definition and its function. Call :func:`evaluate` to get results with the shared
    rules applied; :meth:`run` is the bare function."""

    definition: CheckDefinition
    fn: CheckFunction

    @property
    def id(self) -> str:
        return self.definition.id

    def run(self, inventory: Inventory) -> list[Finding]:
        return list(self.fn(inventory))


def check(definition: CheckDefinition) -> Callable[[CheckFunction], Check]:
    """Pair ``definition`` with a function: ``check(DEF)(fn)`` returns a :class:`Check`.

    Nothing is registered anywhere; pass the result to a registry explicitly.
    """

    def bind(fn: CheckFunction) -> Check:
        return Check(definition, fn)

    return bind


def evaluate(
    check: Check, inventory: Inventory, *, honour_exemptions: bool = True
) -> list[Finding]:
    """Run ``check`` over ``inventory`` with the shared rules applied (see module docstring).

    Exceptions from the check propagate: the runner turns them into an ``error`` result.
    """
    skip = precondition_skip(check.definition, inventory)
    if skip is not None:
        return [skip]
    findings = check.run(inventory)
    if not findings:
        return [nothing_found(check.definition)]
    if honour_exemptions:
        findings = apply_exemptions(check.definition, findings, inventory)
    return findings


def precondition_skip(definition: CheckDefinition, inventory: Inventory) -> Finding | None:
    """The single ``skipped`` result for a check that cannot run on this inventory, if any."""
    scope = definition.parsed_scope
    if scope.live_only and inventory.source is Source.MANIFESTS:
        codes = "+".join(sorted(scope.required & _LIVE_CODES))
        return Finding.skipped(
            None,
            f"needs a live cluster (scope {codes}): manifest files carry no "
            + ("metrics" if codes == "M" else "live status"),
        )
    if inventory.source is Source.LIVE:
        missing = sorted(g for g in definition.required_groups if not inventory.has_api(g))
        if missing:
            return Finding.skipped(None, f"the cluster does not serve {', '.join(missing)}")
    return None


def nothing_found(definition: CheckDefinition) -> Finding:
    """The single ``skipped`` result of a check that had nothing to look at."""
    message = "nothing to assess: no object in the inventory is in this check's scope"
    if definition.kinds:
        message += f" (it reads {', '.join(definition.kinds)})"
    return Finding.skipped(None, message)


def exemption_reason(inventory: Inventory, ref: ObjectRef, check_id: str) -> str | None:
    """Why ``ref`` is exempt from ``check_id`` (from its annotations or its pod template's),
    or ``None`` when it is not exempt."""
    obj = inventory.get(ref.kind, ref.namespace, ref.name)
    if obj is None:
        return None
    sources = [as_mapping(metadata(obj).get("annotations"))]
    workload = workload_of(obj)
    if workload is not None and workload.kind != "Pod":
        sources.append(as_mapping(workload.template_metadata.get("annotations")))
    for notes in sources:
        if EXEMPT_ANNOTATION in notes and _exempts(notes, check_id):
            reason = str(notes.get(EXEMPT_REASON_ANNOTATION) or "").strip()
            return reason or "no reason given"
    return None


def apply_exemptions(
    definition: CheckDefinition, findings: Iterable[Finding], inventory: Inventory
) -> list[Finding]:
    """``findings`` with those about exempt objects turned into ``skipped`` results."""
    reasons: dict[ObjectRef, str | None] = {}
    out = []
    for finding in findings:
        ref = finding.object
        if ref is None:
            out.append(finding)
            continue
        if ref not in reasons:
            reasons[ref] = exemption_reason(inventory, ref, definition.id)
        reason = reasons[ref]
        if reason is None:
            out.append(finding)
        else:
            message = f"exempt ({EXEMPT_ANNOTATION}): {reason}; would be {finding.status}"
            if finding.message:
                message += f": {finding.message}"
            out.append(replace(finding, status=Status.SKIPPED, message=message))
    return out


def _exempts(annotations: Mapping[str, Any], check_id: str) -> bool:
    value = annotations.get(EXEMPT_ANNOTATION)
    if not value or not isinstance(value, str):
        return False
    listed = {part.strip().upper() for part in re.split(r"[,\s]+", value) if part.strip()}
    return "ALL" in listed or check_id.upper() in listed
