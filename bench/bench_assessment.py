"""Benchmark: a full run of the whole catalogue over a generated cluster, results persisted.

Usage::

    .venv/bin/python bench/bench_assessment.py --objects 10000 50000 --json
    .venv/bin/python bench/bench_assessment.py --objects 50000 \\
        --database-url postgresql://postgres@127.0.0.1:5432/postgres --json
    .venv/bin/python bench/bench_assessment.py --objects 50000 --runs 10   # RSS run after run

Each size is measured in a process of its own (so its peak RSS is its own). The cluster is
:mod:`cluster`'s, shaped like a live one: Deployments with their ReplicaSets and Pods,
StatefulSets with ordinal Pods and claims, DaemonSets, Jobs and CronJobs with what they left,
Services, Ingresses, HPAs, PDBs, ConfigMaps, Secrets, NetworkPolicies, RBAC, Namespaces,
Nodes. For each size it reports

- ``wall_s``: the full run through the real Runner and StorageSink into a fresh database
  (a SQLite file, or a database it creates on ``--database-url`` and drops), from StartRun
  until the run has ended (the inventory is built inside the run, as a live load would);
- ``checks_s``: the same checks one after another in this process, their results built
  and nothing stored (what the checks cost on their own);
- ``store_s``: those results written through the storage write path, one batch per check,
  with nothing else running (what the writes cost on their own);
- ``overlap``: (``checks_s`` + ``store_s``) / ``wall_s``: above 1 when the run overlaps
  writing with checking (the sink writes on its own thread while checks run in theirs);
- ``cpu_s``, ``checks_cpu_s``, ``store_cpu_s``: the CPU time of the process in each of the
  three (on a shared machine the steadier figures); ``writer_cpu_s``: that of the writer
  process during the full runs (all of its life, start-up included);
- ``peak_rss_mb`` (after the run, before the standalone parts), ``results``, ``checks``,
  the slowest checks (CPU time of each alone), and with ``--runs N`` the RSS after each
  of N consecutive runs in one
  process (a run must give back what it took);
- ``writer_process``: whether the run's large batches went through the results writer
  process (``--writer-min-rows``, by default the server's ``results_writer_min_rows``; 0
  writes everything in this process, as before that existed).

With two sizes or more it prints how each figure grows; ``growth`` in the JSON line is the
wall time's (a linear run grows by the size ratio). With ``--json`` the last line is one
JSON object: the largest size's figures at the top level, every size under ``sizes``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_queries import database
from bench_storage import new_run
from cluster import cluster_objects

from assay.server.assessment.execution import CheckExecutor, RunContext
from assay.server.assessment.pace import RUN_PACE
from assay.server.assessment.requests import RunRequest
from assay.server.assessment.runner import Runner
from assay.server.assessment.settings import AssessmentSettings
from assay.server.assessment.sink import CancelOutcome
from assay.server.checks import builtin_registry
from assay.server.checks.kit.catalogue import Catalogue
from assay.server.core.clock import SYSTEM_CLOCK
from assay.server.core.ids import RunIdFactory
from assay.server.core.threads import DaemonExecutor
from assay.server.core.types import AssessmentResult, HistoryEntry, Run, RunId, Source
from assay.server.inventory.model import Inventory
from assay.server.settings import Settings
from assay.server.storage.engine import create_engine_from_url, migrate
from assay.server.storage.repository import Repository
from assay.server.storage.sink import StorageSink
from assay.server.storage.writer import ResultWriter

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    """The resident set now (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE / 1e6


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # KiB on Linux


@dataclass
class TimingSink:
    """The StorageSink, with the time the runner spent waiting on each kind of call."""

    inner: StorageSink
    seconds: dict[str, float] = field(default_factory=dict)

    async def _timed(self, name: str, began: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - began

    async def create_run(self, run: Run) -> None:
        began = time.perf_counter()
        await self.inner.create_run(run)
        await self._timed("create_run", began)

    async def update_run(self, run: Run) -> None:
        began = time.perf_counter()
        await self.inner.update_run(run)
        await self._timed("update_run", began)

    def prepare(self, results: Sequence[AssessmentResult]) -> object:
        return self.inner.prepare(results)

    async def add_results(
        self, results: Sequence[AssessmentResult], *, run: Run, prepared: object = None
    ) -> None:
        began = time.perf_counter()
        await self.inner.add_results(results, run=run, prepared=prepared)
        await self._timed("add_results", began)

    async def finish_run(self, run: Run, history: HistoryEntry) -> None:
        began = time.perf_counter()
        await self.inner.finish_run(run, history)
        await self._timed("finish_run", began)

    async def request_cancel(
        self, run_id: RunId, reason: str, *, now: datetime, stale_before: datetime, dead_reason: str
    ) -> tuple[Run, CancelOutcome]:
        return await self.inner.request_cancel(
            run_id, reason, now=now, stale_before=stale_before, dead_reason=dead_reason
        )


class GeneratedCluster:
    """Builds the inventory inside the run from the generated objects, as a load would."""

    def __init__(self, objects: list[dict[str, Any]]) -> None:
        self.objects = objects

    async def load(self, request: RunRequest, checks: Sequence[Any]) -> Inventory:
        # The inventory owns its objects (it may write default namespaces): fresh dicts.
        fresh = [dict(o, metadata=dict(o["metadata"])) for o in self.objects]
        return Inventory.from_objects(fresh, source=Source.LIVE)


async def full_runs(
    url: str, objects: list[dict[str, Any]], runs: int, writer_min_rows: int
) -> dict[str, Any]:
    engine = create_engine_from_url(url)
    writer = ResultWriter.for_database(
        engine.url, statement_timeout_s=600, min_rows=writer_min_rows
    )
    try:
        migrate(engine)
        sink = TimingSink(StorageSink(Repository(engine), writer=writer))
        catalogue = Catalogue(builtin_registry())
        runner = Runner(
            catalogue=catalogue,
            sink=sink,
            inventories={Source.LIVE: GeneratedCluster(objects)},
            settings=AssessmentSettings(check_timeout_s=600, run_timeout_s=None),
            cluster_id="bench",
        )
        walls, cpus, rss_after, states, results = [], [], [], [], 0
        for _ in range(runs):
            began, cpu = time.perf_counter(), time.process_time()
            queued = await runner.start(RunRequest(source=Source.LIVE))
            run = await runner.wait(queued.run_id)
            walls.append(time.perf_counter() - began)
            cpus.append(time.process_time() - cpu)
            rss_after.append(round(rss_mb(), 1))
            states.append(str(run.state))
            results = run.counts.total
        used_writer = writer is not None and writer.pid is not None
    finally:
        if writer is not None:
            writer.close()  # the child is reaped here: its CPU counts from now on
        engine.dispose()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "wall_s": round(walls[0], 3),
        "walls_s": [round(w, 3) for w in walls],
        "cpu_s": round(cpus[0], 3),
        "writer_cpu_s": round(children.ru_utime + children.ru_stime, 3),
        "sink_wait_s": round(sum(sink.seconds.values()) / runs, 3),
        "results": results,
        "states": sorted(set(states)),
        "rss_after_run_mb": rss_after,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "writer_process": used_writer,
    }


def standalone(url: str, objects: list[dict[str, Any]]) -> dict[str, Any]:
    """The checks alone (results built, nothing stored), then their results stored alone."""
    registry = builtin_registry()
    catalogue = Catalogue(registry)
    fresh = [dict(o, metadata=dict(o["metadata"])) for o in objects]
    inventory = Inventory.from_objects(fresh, source=Source.LIVE)
    now = datetime.now(UTC)
    context = RunContext(
        run_id=RunIdFactory().new(now),
        inventory=inventory,
        exemptions=catalogue.exemptions(inventory, today=now.date()),
    )
    executor = CheckExecutor(
        catalogue=catalogue, clock=SYSTEM_CLOCK, threads=DaemonExecutor(1, name="bench")
    )
    per_check: dict[str, float] = {}
    batches: list[list[AssessmentResult]] = []
    with RUN_PACE.running():  # as in a run
        began, cpu = time.perf_counter(), time.process_time()
        for check in registry.all():
            one = time.thread_time()  # CPU, not wall: steadier on a shared machine
            batches.append(executor._evaluate(context, check).results)
            per_check[check.id] = time.thread_time() - one
        checks_s, checks_cpu_s = time.perf_counter() - began, time.process_time() - cpu
    engine = create_engine_from_url(url)
    try:
        repository = Repository(engine)
        run_id = new_run(repository, "standalone")
        batches = [[dataclasses.replace(r, run_id=run_id) for r in b] for b in batches]
        began, cpu = time.perf_counter(), time.process_time()
        for batch in batches:
            repository.add_results(batch)
        store_s, store_cpu_s = time.perf_counter() - began, time.process_time() - cpu
    finally:
        engine.dispose()
    slowest = sorted(per_check.items(), key=lambda item: -item[1])
    return {
        "checks": len(per_check),
        "checks_s": round(checks_s, 3),
        "store_s": round(store_s, 3),
        "checks_cpu_s": round(checks_cpu_s, 3),
        "store_cpu_s": round(store_cpu_s, 3),
        "per_check_s": {check_id: round(s, 4) for check_id, s in slowest},
    }


async def measure(
    size: int, server_url: str | None, runs: int, writer_min_rows: int
) -> dict[str, Any]:
    objects = cluster_objects(size)
    with database(server_url) as url:
        figures = {"objects": size, **await full_runs(url, objects, runs, writer_min_rows)}
        figures |= standalone(url, objects)
    figures["overlap"] = round((figures["checks_s"] + figures["store_s"]) / figures["wall_s"], 2)
    figures["database"] = "postgresql" if server_url else "sqlite"
    return figures


def child(size: int, args: argparse.Namespace) -> dict[str, Any]:
    """One size, measured in a fresh interpreter."""
    command = [sys.executable, __file__, "--one", str(size), "--runs", str(args.runs)]
    command += ["--writer-min-rows", str(args.writer_min_rows)]
    if args.database_url:
        command += ["--database-url", args.database_url]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def report(sizes: list[dict[str, Any]]) -> None:
    print(f"{sizes[0]['checks']} checks, {sizes[0]['database']}, {machine()}\n")
    print(f"{'':26}" + "".join(f"{f['objects']:>12,}" for f in sizes) + "   growth")

    def row(label: str, key: str, unit: str = "s") -> None:
        values = [float(f[key]) for f in sizes]
        cells = "".join(f"{v:>11.2f}{unit}" if unit else f"{v:>12,.0f}" for v in values)
        growth = "  ".join(f"x{b / a:.2f}" if a else "-" for a, b in itertools.pairwise(values))
        print(f"{label:26}{cells}   {growth}")

    row("results", "results", unit="")
    row("full run, wall", "wall_s")
    row("  CPU of the process", "cpu_s")
    row("  CPU of the writer process", "writer_cpu_s")
    row("  runner waiting on sink", "sink_wait_s")
    row("checks alone", "checks_s")
    row("  CPU", "checks_cpu_s")
    row("store alone", "store_s")
    row("  CPU", "store_cpu_s")
    row("overlap (alone / wall)", "overlap", unit="x")
    row("peak RSS (MB)", "peak_rss_mb", unit="")
    last = sizes[-1]
    print("\nslowest checks (CPU) at", f"{last['objects']:,}:", end=" ")
    print(", ".join(f"{c} {s:.3f}s" for c, s in list(last["per_check_s"].items())[:8]))
    if len(sizes) > 1:
        ratio = last["objects"] / sizes[0]["objects"]
        first = sizes[0]["per_check_s"]
        steep = [
            f"{c} x{s / first[c]:.1f}"
            for c, s in last["per_check_s"].items()
            if first.get(c, 0) > 0.005 and s / first[c] > ratio * 1.5
        ]
        print(f"checks growing faster than x{ratio * 1.5:.1f}: {', '.join(steep) or 'none'}")
    for f in sizes:
        if len(f["rss_after_run_mb"]) > 1:
            print(f"RSS after each run at {f['objects']:,}: {f['rss_after_run_mb']} MB")


def machine() -> str:
    return f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--objects", "--sizes", type=int, nargs="+", default=[10_000, 50_000], dest="objects"
    )
    parser.add_argument("--database-url", help="a PostgreSQL server (default: SQLite)")
    parser.add_argument("--runs", type=int, default=1, help="consecutive runs per size")
    parser.add_argument(
        "--writer-min-rows",
        type=int,
        default=Settings().results_writer_min_rows,
        help="results_writer_min_rows of the run (0: every write in this process)",
    )
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a child process's size
    args = parser.parse_args(argv)
    if args.one is not None:
        figures = measure(args.one, args.database_url, args.runs, args.writer_min_rows)
        print(json.dumps(asyncio.run(figures)))
        return
    sizes = [child(size, args) for size in args.objects]
    report(sizes)
    if args.json:
        summary = {k: v for k, v in sizes[-1].items() if k != "per_check_s"}
        summary["growth"] = round(sizes[-1]["wall_s"] / sizes[0]["wall_s"], 2)
        summary["machine"] = machine()
        summary["sizes"] = [{k: v for k, v in f.items() if k != "per_check_s"} for f in sizes]
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
