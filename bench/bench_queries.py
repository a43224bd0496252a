"""Query RPCs over a million results: ``python bench/bench_queries.py [--database-url URL]``.

Builds a database of ``--runs`` finished runs of ``--per-run`` results each (1,000 x 1,000 by
default) through the storage write path, starts ``assay serve`` on it in a process of its own,
and drives it with 1, 8 and 32 concurrent clients on the async generated client (one asyncio
loop in this process), each shape for ``--seconds``, ``--repeat`` times (the median, and
each repetition's RPC/s and p99):

- ``list_first``: ListAssessments, first page (the default: the latest run of the cluster)
- ``list_first_pillar``: the same with a pillar filter
- ``list_deep``: a page deep inside every run's results (all_runs, half-way through)
- ``list_deep_status``: the same with a status filter (all_runs, failing, half-way through)
- ``summary``: GetSummary of the latest run
- ``history``: GetHistory, first page

It prints RPC/s, p50 and p99 latency and errors per shape and concurrency, with the CPU
time per call of the server's processes and of this (client) process and how many cores the
whole machine kept busy meanwhile; with ``--json`` the last line is one JSON object holding
all of them, plus ``rps_32``, ``p99_ms_32``, ``server_cpu_ms_32`` and ``busy_cores_32`` for
``list_first`` at 32 clients, and ``processes``: ``--processes N`` serves with
``assay serve --processes N`` (several processes on one port; PostgreSQL only).
SQLite by default (a temporary file); ``--database-url`` names a
PostgreSQL *server*: the benchmark creates a database of its own there and drops it at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
from sqlalchemy import create_engine, make_url

from assay.server.core.ids import ResultIdFactory
from assay.server.core.types import (
    AssessmentResult,
    HistoryEntry,
    ObjectRef,
    Pillar,
    Run,
    RunId,
    RunScope,
    RunState,
    Severity,
    Source,
    Status,
    StatusCounts,
)
from assay.server.settings import Settings
from assay.server.storage.engine import create_engine_from_url, migrate
from assay.server.storage.repository import Repository
from assay.v1 import assessment_pb2 as apb
from assay.v1 import assessment_pb2_grpc as apb_grpc
from assay.v1 import common_pb2 as cpb

CHECKS = [(p, f"{p.prefix}-{n:03d}") for p in Pillar for n in (1, 2)]
SEVERITIES = list(Severity)
STATUS_CYCLE = [Status.PASSING] * 6 + [Status.FAILING] * 2 + [Status.WARNING, Status.SKIPPED]
CLUSTER = Settings().cluster_id
CONCURRENCY = (1, 8, 32)


# -- the database -----------------------------------------------------------------------------


def build(repository: Repository, runs: int, per_run: int) -> None:
    """``runs`` finished runs of ``per_run`` results each, through the write path."""
    ids = ResultIdFactory()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for r in range(runs):
        requested = start + timedelta(hours=r)
        run = Run(
            run_id=RunId(f"run_{requested:%Y%m%dT%H%M%S}_000000_{r:08x}"),
            state=RunState.RUNNING,
            scope=RunScope.FULL,
            source=Source.LIVE,
            requested_at=requested,
            started_at=requested,
            cluster_id=CLUSTER,
            check_count=len(CHECKS),
        )
        repository.create_run(run)
        results: list[AssessmentResult] = []
        for c, (pillar, check_id) in enumerate(CHECKS):
            at = requested + timedelta(seconds=1 + c)
            for i in range(c, per_run, len(CHECKS)):
                results.append(
                    AssessmentResult(
                        id=ids.new(check_id, at),
                        run_id=run.run_id,
                        pillar=pillar,
                        check_id=check_id,
                        check_name=f"{pillar.value} rule {check_id}",
                        status=STATUS_CYCLE[(i // len(CHECKS) + r) % len(STATUS_CYCLE)],
                        severity=SEVERITIES[c % len(SEVERITIES)],
                        object=ObjectRef("Deployment", f"app-{i}", f"team-{i % 40}"),
                        container="main",
                        message=f"{check_id}: the container does not set what the rule asks",
                        remediation=f"Change the workload as {check_id} describes in the docs.",
                        assessed_at=at,
                        duration_ms=40 + c,
                    )
                )
        repository.add_results(results)
        counts = StatusCounts.of(r.status for r in results)
        by_pillar = {p: StatusCounts.of(x.status for x in results if x.pillar is p) for p in Pillar}
        done = Run(
            **{
                **run.__dict__,
                "state": RunState.COMPLETED,
                "completed_at": requested + timedelta(minutes=1),
                "counts": counts,
            }
        )
        repository.finish_run(
            done,
            HistoryEntry(
                run_id=done.run_id,
                cluster_id=CLUSTER,
                state=done.state,
                completed_at=requested + timedelta(minutes=1),
                counts=counts,
                by_pillar=by_pillar,
            ),
        )


@contextmanager
def database(server_url: str | None) -> Iterator[str]:
    """A fresh database URL: a temporary SQLite file, or a new database on ``server_url``."""
    if server_url is None:
        scratch = tempfile.mkdtemp(prefix="assay-bench-")
        try:
            yield f"sqlite:///{Path(scratch) / 'bench.db'}"
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return
    server = make_url(server_url).set(drivername="postgresql+psycopg")
    name = f"assay_bench_{secrets.token_hex(4)}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


# -- the server -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(frozen=True)
class Served:
    target: str
    pid: int

    def cpu_s(self) -> float:
        """CPU seconds the server has used so far (user + system), over its process and
        the processes it started (``--processes``)."""
        total = 0.0
        pending = [self.pid]
        while pending:
            pid = pending.pop()
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text()
            except FileNotFoundError:  # ended meanwhile
                continue
            fields = stat.rpartition(")")[2].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            pending += [int(child) for child in children.split()]
        return total


def machine_busy_s() -> float:
    """CPU seconds every core of the machine has spent busy so far (all processes)."""
    fields = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


@contextmanager
def serving(url: str, extra: list[str]) -> Iterator[Served]:
    """``assay serve`` on a free port in a process of its own; its log goes to a file that
    is printed if the server fails to stop."""
    port = free_port()
    command = [
        sys.executable,
        "-c",
        "from assay.client.cli.main import main; main()",
        "serve",
        "--listen",
        f"127.0.0.1:{port}",
        "--database-url",
        url,
        "--health-port",
        "0",
        "--metrics-port",
        "0",
        *extra,
    ]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdout=log, stderr=log, env={**os.environ})
        try:
            yield Served(f"127.0.0.1:{port}", process.pid)
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.returncode not in (0, -15):
                log.seek(0)
                print(log.read().decode(errors="replace")[-4000:], file=sys.stderr)


async def ready(target: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            async with grpc.aio.insecure_channel(target) as channel:
                stub = apb_grpc.AssessmentServiceStub(channel)
                await stub.ListRuns(apb.ListRunsRequest(page_size=1), timeout=2)
                return
        except grpc.aio.AioRpcError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


# -- the load ---------------------------------------------------------------------------------

# Channels of one process to one target share a connection unless each keeps its own
# subchannel pool: without it every client would be multiplexed over one TCP connection,
# which SO_REUSEPORT hands to one of the server's processes.
OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]

Call = Callable[[apb_grpc.AssessmentServiceStub], Awaitable[Any]]


@dataclass
class Figures:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    calls: int
    # CPU time per call: the server's processes, this (client) process; and how many cores
    # the whole machine kept busy meanwhile (PostgreSQL and other work included).
    server_cpu_ms: float
    client_cpu_ms: float
    busy_cores: float


async def drive(served: Served, call: Call, clients: int, seconds: float) -> Figures:
    """``clients`` loops calling ``call`` back to back for ``seconds`` (after a short warm-up),
    over one channel per client as separate client processes would have."""
    channels = [
        grpc.aio.insecure_channel(served.target, options=OWN_CONNECTION) for _ in range(clients)
    ]
    latencies: list[float] = []
    errors = 0
    try:
        stubs = [apb_grpc.AssessmentServiceStub(channel) for channel in channels]
        for stub in stubs:  # connect and warm up
            await call(stub)
        measuring_from = time.perf_counter()
        until = measuring_from + seconds
        cpu_before = (served.cpu_s(), time.process_time(), machine_busy_s())

        async def client(stub: apb_grpc.AssessmentServiceStub) -> None:
            nonlocal errors
            while (began := time.perf_counter()) < until:
                try:
                    await call(stub)
                except grpc.aio.AioRpcError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - began)

        await asyncio.gather(*(client(stub) for stub in stubs))
        elapsed = time.perf_counter() - measuring_from
        server_cpu, client_cpu, busy = (
            after - before
            for after, before in zip(
                (served.cpu_s(), time.process_time(), machine_busy_s()), cpu_before, strict=True
            )
        )
    finally:
        for channel in channels:
            await channel.close()
    ordered = sorted(latencies) or [float("nan")]
    calls = max(1, len(latencies) + errors)
    return Figures(
        rps=len(latencies) / elapsed,
        p50_ms=1000 * statistics.median(ordered),
        p99_ms=1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        errors=errors,
        calls=len(latencies),
        server_cpu_ms=1000 * server_cpu / calls,
        client_cpu_ms=1000 * client_cpu / calls,
        busy_cores=busy / elapsed,
    )


async def deep_token(target: str, query: apb.AssessmentQuery, fraction: float) -> str:
    """The page token ``fraction`` of the way through ``query``'s listing (walked with the
    largest pages), for a page that starts deep in the results."""
    async with grpc.aio.insecure_channel(target) as channel:
        stub = apb_grpc.AssessmentServiceStub(channel)
        request = apb.ListAssessmentsRequest(query=query, page_size=1000, include_total=True)
        first = await stub.ListAssessments(request, timeout=600)
        pages = int(first.total_size / 1000 * fraction)
        token: str = first.next_page_token
        for _ in range(max(0, pages - 1)):
            request = apb.ListAssessmentsRequest(query=query, page_size=1000, page_token=token)
            token = (await stub.ListAssessments(request, timeout=60)).next_page_token
        return token


def shapes(deep: str, deep_status: str) -> dict[str, Call]:
    failing = apb.AssessmentQuery(all_runs=True, statuses=[cpb.STATUS_FAILING])
    return {
        "list_first": lambda s: s.ListAssessments(apb.ListAssessmentsRequest(), timeout=30),
        "list_first_pillar": lambda s: s.ListAssessments(
            apb.ListAssessmentsRequest(query=apb.AssessmentQuery(pillars=[cpb.PILLAR_SECURITY])),
            timeout=30,
        ),
        "list_deep": lambda s: s.ListAssessments(
            apb.ListAssessmentsRequest(query=apb.AssessmentQuery(all_runs=True), page_token=deep),
            timeout=30,
        ),
        "list_deep_status": lambda s: s.ListAssessments(
            apb.ListAssessmentsRequest(query=failing, page_token=deep_status), timeout=30
        ),
        "summary": lambda s: s.GetSummary(apb.GetSummaryRequest(), timeout=30),
        "history": lambda s: s.GetHistory(apb.GetHistoryRequest(), timeout=30),
    }


async def load(served: Served, seconds: float, only: list[str], repeat: int) -> dict[str, Any]:
    target = served.target
    await ready(target)
    deep = await deep_token(target, apb.AssessmentQuery(all_runs=True), 0.5)
    failing = apb.AssessmentQuery(all_runs=True, statuses=[cpb.STATUS_FAILING])
    deep_status = await deep_token(target, failing, 0.5)
    results: dict[str, Any] = {}
    for name, call in shapes(deep, deep_status).items():
        if only and name not in only:
            continue
        for clients in CONCURRENCY:
            repeats: list[Figures] = []
            for _ in range(repeat):
                figures = await drive(served, call, clients, seconds)
                repeats.append(figures)
                print(
                    f"{name:>18} x{clients:<3} {figures.rps:8.0f} RPC/s   "
                    f"p50 {figures.p50_ms:7.1f} ms   p99 {figures.p99_ms:7.1f} ms   "
                    f"errors {figures.errors}   CPU/call server {figures.server_cpu_ms:.2f} ms, "
                    f"client {figures.client_cpu_ms:.2f} ms   "
                    f"machine busy {figures.busy_cores:.2f} cores",
                    flush=True,
                )
            results[f"{name}_{clients}"] = {
                # The median of the repetitions, and every repetition's RPC/s and p99.
                "rps": round(statistics.median(f.rps for f in repeats), 1),
                "p50_ms": round(statistics.median(f.p50_ms for f in repeats), 2),
                "p99_ms": round(statistics.median(f.p99_ms for f in repeats), 2),
                "errors": sum(f.errors for f in repeats),
                "server_cpu_ms": round(statistics.median(f.server_cpu_ms for f in repeats), 3),
                "client_cpu_ms": round(statistics.median(f.client_cpu_ms for f in repeats), 3),
                "busy_cores": round(statistics.median(f.busy_cores for f in repeats), 2),
                "rps_each": [round(f.rps, 1) for f in repeats],
                "p99_ms_each": [round(f.p99_ms, 2) for f in repeats],
            }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a PostgreSQL server (default: SQLite file)")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--per-run", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=5.0, help="per shape and concurrency")
    parser.add_argument("--shape", action="append", default=[], help="only these shapes")
    parser.add_argument("--repeat", type=int, default=1, help="measurements per point (median)")
    parser.add_argument("--serve-arg", action="append", default=[], help="extra assay serve flag")
    parser.add_argument(
        "--processes", type=int, default=1, help="assay serve --processes (PostgreSQL only)"
    )
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args()

    with database(args.database_url) as url:
        engine = create_engine_from_url(url)
        try:
            migrate(engine)
            began = time.perf_counter()
            build(Repository(engine), args.runs, args.per_run)
            built_s = time.perf_counter() - began
        finally:
            engine.dispose()
        results = args.runs * args.per_run
        print(f"built {results:,} results over {args.runs:,} runs in {built_s:.1f} s", flush=True)
        extra = [*args.serve_arg, *(["--processes", str(args.processes)] * (args.processes > 1))]
        with serving(url, extra) as served:
            figures = asyncio.run(load(served, args.seconds, args.shape, args.repeat))
    backend = "postgresql" if args.database_url else "sqlite"
    summary: dict[str, Any] = {
        "backend": backend,
        "processes": args.processes,
        "results": results,
        "runs": args.runs,
        "build_s": round(built_s, 1),
        "seconds_per_point": args.seconds,
        "repeat": args.repeat,
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
        **figures,
    }
    if "list_first_32" in figures:
        summary["rps_32"] = figures["list_first_32"]["rps"]
        summary["p99_ms_32"] = figures["list_first_32"]["p99_ms"]
        summary["server_cpu_ms_32"] = figures["list_first_32"]["server_cpu_ms"]
        summary["busy_cores_32"] = figures["list_first_32"]["busy_cores"]
    if args.json:
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
