"""WatchRun fan-out: ``python bench/bench_watch.py [--subscribers 1 100 1000] [--json]``.

Serves ``assay serve`` in a process of its own over a fresh database (SQLite, or a database
created on the PostgreSQL server ``--database-url`` and dropped afterwards) and starts full
runs over a generated manifest directory of ``--objects`` objects. For each subscriber count
and each of ``--repeat`` runs, this process opens that many WatchRun streams (over one
channel per 100 streams) as soon as StartRun answers, and reads each stream to its
RunFinished event.

Each followed run is paired with a run that nobody follows, started just before it, so that
the drift of a shared machine (other workloads coming and going over minutes) cancels out
of each pair. Per subscriber count it prints the run's duration as the server recorded it
(requested to completed, its median over the repetitions) and the slowdown against the run
before it (the median over the pairs; ``slowdowns_N`` lists each pair's); the CPU time the
server process spent on the run and its increase, likewise per pair (steadier than wall
time on a shared machine, where the subscribers' own process competes for the same cores);
the events each subscriber received; and the delivery latency of the final event (client
receipt minus the event's ``at``: one clock, one machine) over every subscriber of every
repetition, p50 and p99. At the end, as many streams as the largest count replay the
warm-up run (finished, still on the progress bus) ``--repeat`` times with no run going: the
server CPU per stream, a stream's own cost and steadier than the slowdown. The last line
with ``--json`` is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import grpc
import yaml

from assay.v1 import assessment_pb2 as apb
from assay.v1 import assessment_pb2_grpc as apb_grpc

sys.path.insert(0, str(Path(__file__).parent))
from bench_queries import OWN_CONNECTION, Served, database, ready, serving

STREAMS_PER_CHANNEL = 100
Stub = apb_grpc.AssessmentServiceStub


def manifests(directory: Path, objects: int) -> None:
    """``objects`` objects in YAML files of 100 documents: per app a Deployment, a Pod it
    owns and a Service, in 50 namespaces; a share of them break what the checks look at."""
    documents: list[dict[str, Any]] = []
    for app in range(-(-objects // 3)):
        namespace, name = f"team-{app % 50}", f"app-{app}"
        container: dict[str, Any] = {
            "name": "main",
            "image": f"registry.example/{name}:1.{app % 9}",
        }
        if app % 3:
            container["resources"] = {"requests": {"cpu": "50m", "memory": "64Mi"}}
        if app % 4:
            container["readinessProbe"] = {"httpGet": {"path": "/ready", "port": 8080}}
        if app % 7 == 0:
            container["securityContext"] = {"privileged": True}
        labels = {"app": name}
        spec = {"containers": [container]}
        documents += [
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": name, "namespace": namespace, "labels": labels},
                "spec": {
                    "replicas": 1 + app % 3,
                    "selector": {"matchLabels": labels},
                    "template": {"metadata": {"labels": labels}, "spec": spec},
                },
            },
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"{name}-0", "namespace": namespace, "labels": labels},
                "spec": spec,
            },
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]},
            },
        ]
    documents = documents[:objects]
    for start in range(0, len(documents), 100):
        path = directory / f"objects-{start // 100:04d}.yaml"
        path.write_text(yaml.safe_dump_all(documents[start : start + 100]))


def upload(directory: Path) -> Iterator[apb.StartManifestRunRequest]:
    """The run, then each manifest file of ``directory`` (uploaded as the CLI does)."""
    yield apb.StartManifestRunRequest(run=apb.StartRunRequest())
    for path in sorted(directory.glob("*.yaml")):
        chunk = apb.ManifestChunk(name=path.name, data=path.read_bytes())
        yield apb.StartManifestRunRequest(chunk=chunk)


async def subscriber(stub: apb_grpc.AssessmentServiceStub, run_id: str) -> tuple[float, int]:
    """Read one stream to its end: (final event's delivery latency in s, events read)."""
    events = 0
    async for response in stub.WatchRun(apb.WatchRunRequest(run_id=run_id), timeout=600):
        events += 1
        if response.event.WhichOneof("event") == "run_finished":
            received = time.time()
            sent = response.event.at.seconds + response.event.at.nanos / 1e9
            return received - sent, events
    raise RuntimeError(f"stream of {run_id} ended without its final event")


@asynccontextmanager
async def stubs_for(target: str, subscribers: int) -> AsyncIterator[list[Stub]]:
    """Stubs over one channel per :data:`STREAMS_PER_CHANNEL` streams (at least one), each
    channel with a connection of its own (channels of one process to one target otherwise
    share one: ``bench_queries.OWN_CONNECTION``)."""
    channels = [
        grpc.aio.insecure_channel(target, options=OWN_CONNECTION)
        for _ in range(max(1, -(-subscribers // STREAMS_PER_CHANNEL)))
    ]
    try:
        yield [apb_grpc.AssessmentServiceStub(channel) for channel in channels]
    finally:
        for channel in channels:
            await channel.close()


async def follow_all(stubs: list[Stub], run_id: str, subscribers: int) -> list[tuple[float, int]]:
    return await asyncio.gather(
        *(subscriber(stubs[i % len(stubs)], run_id) for i in range(subscribers))
    )


async def one_run(target: str, path: Path, subscribers: int) -> tuple[str, float, list[float], int]:
    """A run followed by ``subscribers`` streams: (run id, run seconds, final latencies,
    events)."""
    async with stubs_for(target, subscribers) as stubs:
        started = await stubs[0].StartManifestRun(upload(path), timeout=60)
        run_id = started.run.run_id
        followed = await follow_all(stubs, run_id, subscribers)
        while True:  # with no subscriber, wait for the end in storage
            run = (await stubs[0].GetRun(apb.GetRunRequest(run_id=run_id), timeout=60)).run
            if run.state not in (apb.RUN_PHASE_QUEUED, apb.RUN_PHASE_RUNNING):
                break
            await asyncio.sleep(0.05)
        if run.state != apb.RUN_PHASE_COMPLETED:
            raise RuntimeError(f"run {run_id} ended {apb.RunPhase.Name(run.state)}: {run.error}")
        duration = (run.completed_at.ToDatetime() - run.requested_at.ToDatetime()).total_seconds()
        events = sum(count for _, count in followed)
        return run_id, duration, [latency for latency, _ in followed], events


async def replay(served: Served, run_id: str, subscribers: int, rounds: int) -> dict[str, Any]:
    """Server CPU per stream of ``subscribers`` streams that replay the finished run
    ``run_id`` from the progress bus, no run going: a stream's own cost, steadier than a
    run's slowdown (its median over ``rounds``, in ms, and the events of each stream)."""
    per_stream: list[float] = []
    events = 0
    for _ in range(rounds):
        before = served.cpu_s()
        async with stubs_for(served.target, subscribers) as stubs:
            followed = await follow_all(stubs, run_id, subscribers)
        per_stream.append(1000 * (served.cpu_s() - before) / subscribers)
        events = sum(count for _, count in followed)
    figure = statistics.median(per_stream)
    print(
        f"{subscribers:>6} replays of the finished run: server CPU {figure:.3f} ms per stream, "
        f"{events / subscribers:.1f} events each",
        flush=True,
    )
    return {
        f"replay_cpu_ms_per_stream_{subscribers}": round(figure, 3),
        f"replay_events_per_stream_{subscribers}": round(events / subscribers, 1),
    }


async def measure(served: Served, path: Path, counts: list[int], repeat: int) -> dict[str, Any]:
    target = served.target
    await ready(target)
    run_id, *_ = await one_run(target, path, 0)  # warm-up: imports, caches, check versions
    figures: dict[str, Any] = {}
    baselines: list[float] = []
    baseline_cpus: list[float] = []

    async def timed(subscribers: int) -> tuple[float, float, list[float], int]:
        before = served.cpu_s()
        _, duration, finals, read = await one_run(target, path, subscribers)
        return duration, served.cpu_s() - before, finals, read

    for subscribers in counts:
        ratios: list[float] = []
        cpu_ratios: list[float] = []
        durations: list[float] = []
        cpu: list[float] = []
        latencies: list[float] = []
        events = 0
        for _ in range(repeat):
            # Each followed run is paired with a run nobody follows just before it: the
            # machine's drift (other workloads come and go) cancels out of each pair.
            alone, alone_cpu, _, _ = await timed(0)
            duration, cpu_s, finals, read = await timed(subscribers)
            baselines.append(alone)
            baseline_cpus.append(alone_cpu)
            ratios.append(duration / alone)
            cpu_ratios.append(cpu_s / alone_cpu)
            durations.append(duration)
            cpu.append(cpu_s)
            latencies += finals
            events += read
        latencies.sort()
        p50 = 1000 * statistics.median(latencies)
        p99 = 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        run_s, cpu_s = statistics.median(durations), statistics.median(cpu)
        slowdown = statistics.median(ratios) - 1
        extra_cpu = statistics.median(cpu_ratios) - 1
        per_subscriber = events / (subscribers * repeat)
        figures[f"run_s_{subscribers}"] = round(run_s, 3)
        figures[f"server_cpu_s_{subscribers}"] = round(cpu_s, 3)
        figures[f"slowdown_{subscribers}"] = round(slowdown, 3)
        figures[f"slowdowns_{subscribers}"] = [round(ratio - 1, 3) for ratio in ratios]
        figures[f"server_cpu_extra_{subscribers}"] = round(extra_cpu, 3)
        figures[f"final_p50_ms_{subscribers}"] = round(p50, 1)
        figures[f"final_p99_ms_{subscribers}"] = round(p99, 1)
        figures[f"events_per_subscriber_{subscribers}"] = round(per_subscriber, 1)
        print(
            f"{subscribers:>6} subscribers: run {run_s:6.2f} s ({slowdown:+.1%} against the "
            f"run before it), server CPU {cpu_s:5.2f} s ({extra_cpu:+.1%})   final event p50 "
            f"{p50:6.1f} ms  p99 {p99:6.1f} ms   {per_subscriber:.1f} events each",
            flush=True,
        )
    figures["run_s_0"] = round(statistics.median(baselines), 3)
    figures["server_cpu_s_0"] = round(statistics.median(baseline_cpus), 3)
    print(
        f"{0:>6} subscribers: run {figures['run_s_0']:6.2f} s, server CPU "
        f"{figures['server_cpu_s_0']:5.2f} s (medians of the {len(baselines)} paired runs)",
        flush=True,
    )
    return figures | await replay(served, run_id, max(counts), repeat)


@contextmanager
def manifest_directory(objects: int) -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="assay-watch-"))
    try:
        manifests(directory, objects)
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--subscribers", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", help="a PostgreSQL server (default: SQLite file)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args()

    with (
        manifest_directory(args.objects) as path,
        database(args.database_url) as url,
        serving(url, []) as served,
    ):
        figures = asyncio.run(measure(served, path, args.subscribers, args.repeat))
    summary = {
        "objects": args.objects,
        "repeat": args.repeat,
        "backend": "postgresql" if args.database_url else "sqlite",
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
        **figures,
    }
    if args.json:
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
