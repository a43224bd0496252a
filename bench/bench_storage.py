"""Bulk-insert throughput of the storage layer: ``python bench/bench_storage.py [--url URL]``.

Writes 50,000 results into a fresh SQLite file (or an existing, migrated-on-the-fly database
given by ``--url``; its tables receive the rows) through ``Repository.add_results``: once in
a single call, and once in runner-sized batches of ``--batch`` results, and prints the rate.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from assay.server.core.types import (
    AssessmentResult,
    ObjectRef,
    Pillar,
    ResultId,
    ResultQuery,
    Run,
    RunId,
    RunScope,
    RunState,
    Severity,
    Source,
    Status,
)
from assay.server.storage.engine import create_engine_from_url, migrate
from assay.server.storage.repository import Repository

PILLARS = list(Pillar)
STATUSES = list(Status)
SEVERITIES = list(Severity)


def results_of(run_id: RunId, count: int) -> list[AssessmentResult]:
    start = datetime.now(UTC)
    return [
        AssessmentResult(
            id=ResultId(f"asm_{run_id}_{i:06d}"),
            run_id=run_id,
            pillar=PILLARS[i % len(PILLARS)],
            check_id=f"SEC{i % 40:03d}",
            check_name="Containers run as non-root",
            status=STATUSES[i % len(STATUSES)],
            severity=SEVERITIES[i % len(SEVERITIES)],
            object=ObjectRef(kind="Deployment", name=f"web-{i}", namespace=f"ns-{i % 50}"),
            container="app",
            message="securityContext.runAsNonRoot is not set",
            remediation="Set securityContext.runAsNonRoot: true on the container",
            assessed_at=start + timedelta(microseconds=i),
            duration_ms=i % 250,
        )
        for i in range(count)
    ]


def insert(repository: Repository, label: str, count: int, batch: int) -> None:
    run_id = RunId(f"bench-{label}-{time.time_ns()}")
    repository.create_run(
        Run(
            run_id=run_id,
            state=RunState.RUNNING,
            scope=RunScope.FULL,
            source=Source.LIVE,
            requested_at=datetime.now(UTC),
        )
    )
    results = results_of(run_id, count)
    began = time.perf_counter()
    for offset in range(0, count, batch):
        repository.add_results(results[offset : offset + batch])
    elapsed = time.perf_counter() - began
    stored = repository.list_results(ResultQuery(run_id=run_id, limit=1)).total
    assert stored == count, f"stored {stored} of {count}"
    print(f"{label:>24}: {count:,} results in {elapsed:.2f} s = {count / elapsed:,.0f} rows/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=500, help="results per add_results call")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        url = args.url or f"sqlite:///{Path(scratch) / 'bench.db'}"
        engine = create_engine_from_url(url)
        try:
            migrate(engine)
            repository = Repository(engine)
            print(f"{engine.url.get_backend_name()} ({engine.url.render_as_string()})")
            insert(repository, "one call", args.count, args.count)
            insert(repository, f"batches of {args.batch}", args.count, args.batch)
        finally:
            engine.dispose()


if __name__ == "__main__":
    main()
