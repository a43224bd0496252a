"""Domain types of assessments: pillars, statuses, results, runs, counts and scores.

Every layer (checks, runner, storage, API) speaks these types; only ``server.api``
converts them to and from the generated protobuf messages.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, NewType, TypeVar

from assay.server.core.records import fast_record

T = TypeVar("T")
RunId = NewType("RunId", str)
ResultId = NewType("ResultId", str)


class Pillar(enum.StrEnum):
    SECURITY = "security"
    RELIABILITY = "reliability"
    PERFORMANCE_EFFICIENCY = "performance_efficiency"
    COST_OPTIMIZATION = "cost_optimization"
    OPERATIONAL_EXCELLENCE = "operational_excellence"
    SUSTAINABILITY = "sustainability"

    @property
    def prefix(self) -> str:
        """The check-id prefix of the pillar (``SEC`` for security, ...)."""
        return _PILLAR_PREFIX[self]


_PILLAR_PREFIX: dict[Pillar, str] = {
    Pillar.SECURITY: "SEC",
    Pillar.RELIABILITY: "REL",
    Pillar.PERFORMANCE_EFFICIENCY: "PERF",
    Pillar.COST_OPTIMIZATION: "COST",
    Pillar.OPERATIONAL_EXCELLENCE: "OPS",
    Pillar.SUSTAINABILITY: "SUS",
}


class Status(enum.StrEnum):
    PASSING = "passing"
    FAILING = "failing"
    WARNING = "warning"
    SKIPPED = "skipped"
    ERROR = "error"
    TIMEOUT = "timeout"


class Severity(enum.StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_ORDER.index(self)


_SEVERITY_ORDER = [Severity.INFO, Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL]


class RunState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    PARTIAL = "partial"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self not in (RunState.QUEUED, RunState.RUNNING)


class RunScope(enum.StrEnum):
    FULL = "full"
    PILLAR = "pillar"
    SINGLE = "single"


class Source(enum.StrEnum):
    LIVE = "live"
    MANIFESTS = "manifests"


@dataclass(frozen=True)
class StatusCounts:
    """Result counts per status, and the score they give.

    ``exempted`` is not a status: it counts the ``skipped`` results that an exemption made
    so (annotation or policy rule), so summaries can show exemptions apart.
    """

    passing: int = 0
    failing: int = 0
    warning: int = 0
    skipped: int = 0
    error: int = 0
    timeout: int = 0
    exempted: int = 0

    @classmethod
    def of(cls, statuses: Iterable[Status], *, exempted: int = 0) -> StatusCounts:
        tally: dict[str, int] = dict.fromkeys(Status, 0)
        for status in statuses:
            tally[status] += 1
        tally["exempted"] = exempted
        return cls.from_mapping(tally)

    @classmethod
    def from_mapping(cls, tally: Mapping[Status, int] | Mapping[str, int]) -> StatusCounts:
        """From counts keyed by status (and optionally ``"exempted"``)."""
        return cls(**{str(s): int(n) for s, n in tally.items()})

    def __add__(self, other: StatusCounts) -> StatusCounts:
        return StatusCounts(
            **{s.value: self.get(s) + other.get(s) for s in Status},
            exempted=self.exempted + other.exempted,
        )

    def get(self, status: Status) -> int:
        value: int = getattr(self, status.value)
        return value

    @property
    def total(self) -> int:
        return sum(self.get(s) for s in Status)

    @property
    def score(self) -> float | None:
        """100 x passing / (passing + failing + warning); None when nothing was judged.

        Skipped, error and timeout results say nothing about the cluster, so they are out of
        the denominator; with an empty denominator there is no score (not 0, not 100).
        """
        judged = self.passing + self.failing + self.warning
        if judged == 0:
            return None
        return round(100.0 * self.passing / judged, 2)


@fast_record
@dataclass(frozen=True, slots=True)
class ObjectRef:
    """The Kubernetes object a result is about (namespace empty for cluster-scoped)."""

    kind: str
    name: str
    namespace: str = ""


@fast_record
@dataclass(frozen=True, slots=True)
class SourceLocation:
    """Where an assessed object was read from: a manifest file as the client named it in
    its upload (a label, never opened) and the 1-based line its document starts at."""

    path: str
    line: int


@fast_record
@dataclass(frozen=True, slots=True)
class AssessmentResult:
    """One persisted result: a check's verdict on one object (or container)."""

    id: ResultId
    run_id: RunId
    pillar: Pillar
    check_id: str
    check_name: str
    status: Status
    severity: Severity
    object: ObjectRef | None
    container: str
    message: str
    remediation: str
    assessed_at: datetime
    duration_ms: int
    exempted: bool = False
    """A ``skipped`` result that an exemption (annotation or policy rule) made so."""
    origin: SourceLocation | None = None
    """The manifest file and line of ``object`` (manifest runs only)."""


@dataclass(frozen=True)
class Run:
    """A run's state as stored; ``counts`` is filled as results arrive."""

    run_id: RunId
    state: RunState
    scope: RunScope
    source: Source
    requested_at: datetime
    pillars: tuple[Pillar, ...] = ()
    check_id: str = ""
    cluster_id: str = ""
    started_at: datetime | None = None
    completed_at: datetime | None = None
    error: str = ""
    counts: StatusCounts = field(default_factory=StatusCounts)
    diagnostics: tuple[str, ...] = ()
    check_count: int = 0


@dataclass(frozen=True)
class HistoryEntry:
    """One row per finished run: totals, per-pillar breakdown and score."""

    run_id: RunId
    cluster_id: str
    state: RunState
    completed_at: datetime
    counts: StatusCounts
    by_pillar: Mapping[Pillar, StatusCounts]

    @property
    def score(self) -> float | None:
        return self.counts.score


@dataclass(frozen=True)
class Summary:
    """Counts over a set of results (one run, or everything matching a query)."""

    counts: StatusCounts
    by_pillar: Mapping[Pillar, StatusCounts]
    by_severity: Mapping[Severity, int]
    run_id: RunId | None = None

    @property
    def score(self) -> float | None:
        return self.counts.score


@dataclass(frozen=True)
class ResultQuery:
    """Filters and page of a result listing or summary; validated at the API edge.

    The results of one run (``run_id``), of the latest run of a cluster that executed every
    check (``latest_run_of``: completed or partial, by completion time; resolved on the first
    page and carried by the page token), or of every run (both unset).
    """

    run_id: RunId | None = None
    pillars: frozenset[Pillar] = frozenset()
    statuses: frozenset[Status] = frozenset()
    check_id: str | None = None
    since: datetime | None = None
    latest_run_of: str | None = None
    limit: int = 50
    # Opaque token of the next page, from Page.next_page_token; "" for the first page.
    page_token: str = ""
    # Count every match into Page.total (from the stored counts where they hold it).
    include_total: bool = False


@dataclass(frozen=True)
class RunQuery:
    states: frozenset[RunState] = frozenset()
    since: datetime | None = None
    limit: int = 50
    page_token: str = ""
    include_total: bool = False


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing.

    ``next_page_token`` is empty on the last page. ``total`` counts every match, or is None
    when it was not asked for and would have cost more than the page.
    """

    items: list[T]
    total: int | None = None
    next_page_token: str = ""
