"""What a run is asked to do, and the one validation of it.

Built by the StartRun and StartManifestRun servicers (from the proto request and the
uploaded files) and by the scheduler (from its settings); :func:`resolve_checks` validates
the whole request and picks its checks before anything is created, so the gRPC edge
converts fields and nothing more. Manifests come either as uploaded bytes or, for the
scheduler only, as a :class:`ManifestTree` of the server's own settings: no request from a
client can name a path the server would read.
"""

from __future__ import annotations

from dataclasses import dataclass

from assay.server.checks.kit import Check
from assay.server.checks.kit.catalogue import Catalogue
from assay.server.core.errors import FieldViolation, InvalidArgument
from assay.server.core.types import Pillar, RunScope, Source
from assay.server.inventory.tree import ManifestFile


@dataclass(frozen=True)
class ManifestTree:
    """A manifest file or directory named by the server's settings (scheduled runs)."""

    path: str


Manifests = tuple[ManifestFile, ...] | ManifestTree


@dataclass(frozen=True)
class RunRequest:
    """What to run and over what.

    ``check_id`` runs one check and excludes ``pillars``; empty ``pillars`` with no
    ``check_id`` runs every enabled check. ``manifests`` are the uploaded files or the
    scheduler's tree (source manifests), ``context`` the kubeconfig context (source live,
    empty for the server's own cluster; the edge checks it against the allow-list).
    Timeouts left ``None`` take the runner's defaults.
    """

    source: Source = Source.LIVE
    pillars: tuple[Pillar, ...] = ()
    check_id: str = ""
    manifests: Manifests = ()
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
    if request.source is Source.MANIFESTS and not request.manifests:
        violations.append(FieldViolation("manifests", "source manifests needs manifest files"))
    if request.source is Source.LIVE and request.manifests:
        violations.append(FieldViolation("source", "manifests are assessed with source manifests"))
    for name in ("check_timeout_s", "run_timeout_s"):
        value = getattr(request, name)
        if value is not None and not value > 0:
            violations.append(FieldViolation(name.removesuffix("_s") + "_seconds", "must be > 0"))
    if violations:
        raise InvalidArgument(violations)
    return catalogue.select(pillars=pillars, check_id=request.check_id)
