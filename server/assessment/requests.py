"""What a run is asked to do, and the one validation of it.

Built by the StartRun servicer (from the proto request) and by the scheduler (from its
settings); :func:`resolve_checks` validates the whole request and picks its checks before
anything is created, so the gRPC edge converts fields and nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass

from assay.server.checks.kit import Check
from assay.server.checks.kit.catalogue import Catalogue
from assay.server.core.errors import FieldViolation, InvalidArgument
from assay.server.core.types import Pillar, RunScope, Source


@dataclass(frozen=True)
class RunRequest:
    """What to run and over what.

    ``check_id`` runs one check and excludes ``pillars``; empty ``pillars`` with no
    ``check_id`` runs every enabled check. ``path`` is the manifest file or directory
    (source manifests), ``context`` the kubeconfig context (source live, empty for the
    default). Timeouts left ``None`` take the runner's defaults.
    """

    source: Source = Source.LIVE
    pillars: tuple[Pillar, ...] = ()
    check_id: str = ""
    path: str = ""
    context: str = ""
    check_timeout_s: float | None = None
    run_timeout_s: float | None = None

    @property
    def scope(self) -> RunScope:
        if self.check_id:
            return RunScope.SINGLE
        return RunScope.PILLAR if self.pillars else RunScope.FULL


def resolve_checks(catalogue: Catalogue, request: RunRequest) -> tuple[Check, ...]:
    """The enabled checks a request selects, sorted by id.

    Raises InvalidArgument for a malformed request (every problem at once), NotFound for an
    unknown check id and FailedPrecondition for a disabled one; all before anything is
    created.
    """
    violations: list[FieldViolation] = []
    pillars: list[Pillar] = []
    for value in request.pillars:
        try:
            pillar = Pillar(value)
        except ValueError:
            violations.append(FieldViolation("pillars", f"unknown pillar {value!r}"))
            continue
        if pillar not in pillars:
            pillars.append(pillar)
    if request.check_id and request.pillars:
        violations.append(FieldViolation("check_id", "a single-check run takes no pillars"))
    if request.source is Source.MANIFESTS and not request.path.strip():
        violations.append(FieldViolation("path", "is required for source manifests"))
    for name in ("check_timeout_s", "run_timeout_s"):
        value = getattr(request, name)
        if value is not None and not value > 0:
            violations.append(FieldViolation(name.removesuffix("_s") + "_seconds", "must be > 0"))
    if violations:
        raise InvalidArgument(violations)
    return catalogue.select(pillars=pillars, check_id=request.check_id)
