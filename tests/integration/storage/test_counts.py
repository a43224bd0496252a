"""The stored per-run counts equal the counts recomputed from the result rows, for runs that
completed, partially failed and were cancelled (real runner, real storage)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from sqlalchemy import text

from assay.server.assessment.progress import CheckFinished
from assay.server.assessment.runner import Runner
from assay.server.assessment.settings import AssessmentSettings
from assay.server.checks.kit.catalogue import Catalogue
from assay.server.core.types import (
    Pillar,
    ResultQuery,
    RunId,
    RunState,
    Severity,
    Status,
    StatusCounts,
    Summary,
)
from assay.server.storage.repository import Repository
from assay.server.storage.sink import StorageSink
from tests.integration.storage.builders import T0, make_result, make_run
from tests.unit.assessment.fakes import (
    MANIFESTS,
    Gate,
    StaticInventory,
    fake_check,
    per_pod,
    raises,
    registry,
    small_inventory,
)


def recounted(repository: Repository, run_id: str) -> Summary:
    """A summary computed straight from the result rows, bypassing the counts table."""
    with repository.engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT c.pillar, a.status, c.severity, COUNT(*) FROM assessments a "
                "JOIN assessment_checks c ON c.id = a.check_ref WHERE a.run_id = :run "
                "GROUP BY c.pillar, a.status, c.severity"
            ),
            {"run": run_id},
        ).all()
    per_pillar: dict[Pillar, Counter[Status]] = {}
    by_severity: Counter[Severity] = Counter()
    for pillar, status, severity, count in rows:
        per_pillar.setdefault(Pillar(pillar), Counter())[Status(status)] += count
        if status == Status.FAILING:
            by_severity[Severity(severity)] += count
    by_pillar = {p: StatusCounts.from_mapping(c) for p, c in per_pillar.items()}
    return Summary(
        counts=sum(by_pillar.values(), StatusCounts()),
        by_pillar=by_pillar,
        by_severity=dict(by_severity),
        run_id=RunId(run_id),
    )


def runner(repository: Repository, *checks: object, **config: object) -> Runner:
    return Runner(
        catalogue=Catalogue(registry(*checks)),  # type: ignore[arg-type]
        sink=StorageSink(repository),
        inventories={MANIFESTS.source: StaticInventory(small_inventory(pods=40))},
        settings=AssessmentSettings(**config),  # type: ignore[arg-type]
        cluster_id="prod",
    )


def assert_counts_hold(repository: Repository, run_id: RunId) -> Summary:
    stored = repository.summary(ResultQuery(run_id=run_id))
    assert stored == recounted(repository, run_id)
    run = repository.get_run(run_id)
    assert stored.counts == run.counts
    [entry] = [e for e in repository.history().items if e.run_id == run_id]
    assert entry.by_pillar == stored.by_pillar
    total = repository.list_results(ResultQuery(run_id=run_id, limit=1, include_total=True)).total
    assert total == stored.counts.total
    return stored


async def test_a_completed_run(repository: Repository) -> None:
    engine = runner(
        repository,
        fake_check("SEC-001", per_pod(Status.FAILING), severity=Severity.HIGH),
        fake_check("SEC-003", per_pod(Status.PASSING), severity=Severity.CRITICAL),
        fake_check("REL-001", per_pod(Status.WARNING)),
        fake_check("COST-003", per_pod(Status.SKIPPED), severity=Severity.LOW),
    )
    run = await engine.wait((await engine.start(MANIFESTS)).run_id)

    assert run.state is RunState.COMPLETED
    stored = assert_counts_hold(repository, run.run_id)
    assert stored.counts == StatusCounts(failing=40, passing=40, warning=40, skipped=40)
    assert stored.by_severity == {Severity.HIGH: 40}


async def test_a_partial_run(repository: Repository, gate: Gate) -> None:
    engine = runner(
        repository,
        fake_check("SEC-001", per_pod(Status.FAILING)),
        fake_check("REL-001", raises("boom")),
        fake_check("OPS-001", gate),
        check_timeout_s=0.05,
    )
    run = await engine.wait((await engine.start(MANIFESTS)).run_id)

    assert run.state is RunState.PARTIAL
    stored = assert_counts_hold(repository, run.run_id)
    assert stored.counts == StatusCounts(failing=40, error=1, timeout=1)


async def test_a_cancelled_run(repository: Repository, gate: Gate) -> None:
    engine = runner(
        repository,
        fake_check("SEC-001", per_pod(Status.PASSING)),
        fake_check("REL-001", per_pod(Status.FAILING)),
        fake_check("OPS-001", gate),
    )
    queued = await engine.start(MANIFESTS)
    finished_checks = 0
    async with engine.bus.subscribe(queued.run_id) as events:
        async for event in events:  # until the two other checks are stored
            finished_checks += isinstance(event.payload, CheckFinished)
            if finished_checks == 2:
                break
    assert await asyncio.to_thread(gate.entered.wait, 5)
    run = await engine.cancel(queued.run_id)

    assert run.state is RunState.CANCELLED
    stored = assert_counts_hold(repository, run.run_id)
    assert stored.counts == StatusCounts(passing=40, failing=40)


def test_counts_add_up_across_batches_of_one_run(repository: Repository) -> None:
    repository.create_run(make_run("run-1"))
    for start in range(0, 30, 7):  # one check's results written in several batches
        repository.add_results(
            [
                make_result("run-1", n, status=Status.FAILING if n % 3 else Status.PASSING)
                for n in range(start, min(start + 7, 30))
            ]
        )

    assert repository.summary(ResultQuery(run_id=RunId("run-1"))) == recounted(repository, "run-1")
    since = ResultQuery(run_id=RunId("run-1"), since=T0 + timedelta(seconds=20))
    assert repository.summary(since).counts == StatusCounts(failing=7, passing=3)
