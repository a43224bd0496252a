"""Benchmark: the WorkflowExecution controller over HTTP against the kube API double.

Usage::

    .venv/bin/python bench/bench_workflow.py                    # 500 executions, 100 targets
    .venv/bin/python bench/bench_workflow.py --executions 1000 --targets 100 --workers 16
    .venv/bin/python bench/bench_workflow.py --executions 2000 --targets 400 --json

The double serves from its own thread (as a real API server is another process) with the
real CRD, Tekton's CRDs and the Tekton simulator in auto mode: every PipelineRun starts at
once and ends ``--run-time`` seconds later, one in ten failing. Executions are created in
``--waves`` waves (each wave one execution per target, in a random order) so that later
waves find some targets still busy and others free again (the cooldown is 0).
Progress is followed on a watch stream, never by polling the store.

It prints the time until every execution is terminal, the time per execution (the whole
over the count, and each one's creation-to-terminal latency as the watch delivers it, all on
the real client path: the controller's KubeClient over HTTP), how many PipelineRuns exist
against how many executions ran (they must be equal: no duplicate, no lost run), the
outcomes, and the maximum number of executions Running on one target at any moment (must be
1), tracked from a separate watch stream on WorkflowExecutions. With ``--json`` the last
line is one JSON object of these figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from kubernetes.aio.client import ApiClient
from prometheus_client import CollectorRegistry

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.kubeapi (the double) and the in-memory sink

from assay.server.kube.client import KubeClient  # noqa: E402
from assay.server.kube.settings import BackoffSettings, LeaderElectionSettings  # noqa: E402
from assay.server.kube.watch import Watcher  # noqa: E402
from assay.server.observability.workflow_metrics import WorkflowMetrics  # noqa: E402
from assay.server.workflow.controller import WorkflowController  # noqa: E402
from assay.server.workflow.model import API_VERSION, KIND, WORKFLOW_EXECUTIONS, Phase  # noqa: E402
from assay.server.workflow.settings import WorkflowSettings  # noqa: E402
from tests.kubeapi import (  # noqa: E402
    Failure,
    JsonObject,
    KubeApiDouble,
    TektonSimulator,
)
from tests.unit.workflow.fakes import InMemoryAuditSink  # noqa: E402

CRD = ROOT / "deploy" / "crds" / "workflowexecution.yaml"
EXEC_NS = "kubernaut-workflows"
NAMESPACES = ("team-a", "team-b")
TERMINAL = {Phase.COMPLETED.value, Phase.FAILED.value, Phase.SKIPPED.value}


def _decide(run: JsonObject) -> Failure | None:
    """Fail one PipelineRun in ten (stable by name), in a step, with an exit code."""
    if int(run["metadata"]["uid"].replace("-", ""), 16) % 10 == 0:
        return Failure(failed_task="run", step="run", exit_code=2)
    return None


def _resource_of(path: str) -> str:
    """``pipelineruns``, ``leases/<name>`` -> the resource plural, and '/status'."""
    parts = path.strip("/").split("/")
    plural = parts[-1]
    for i, part in enumerate(parts):
        if part == "namespaces" and len(parts) > i + 2:
            plural = parts[i + 2] + ("/status" if parts[-1] == "status" else "")
            break
    return plural


class RunningTracker:
    """Follows a watch on WorkflowExecutions and records the most Running on one target."""

    def __init__(self) -> None:
        self.running: dict[str, set[str]] = defaultdict(set)
        self.max_per_target = 0
        self.events = 0
        self.terminal: set[str] = set()
        self.terminal_at: dict[str, float] = {}
        self.changed = asyncio.Event()

    def apply(self, kind: str, obj: JsonObject) -> None:
        self.events += 1
        meta = obj["metadata"]
        key = f"{meta['namespace']}/{meta['name']}"
        target = obj["spec"]["targetResource"]
        phase = (obj.get("status") or {}).get("phase")
        if kind != "DELETED" and phase == Phase.RUNNING.value:
            self.running[target].add(key)
        else:
            self.running[target].discard(key)
        self.max_per_target = max(self.max_per_target, len(self.running[target]))
        if phase in TERMINAL:
            self.terminal.add(key)
            self.terminal_at.setdefault(key, time.perf_counter())
        self.changed.set()

    async def wait_terminal(self, count: int) -> None:
        while len(self.terminal) < count:
            self.changed.clear()
            await self.changed.wait()

    async def follow(self, kube: KubeClient, ready: asyncio.Event) -> None:
        listed = await kube.list(WORKFLOW_EXECUTIONS)
        for obj in listed.items:
            self.apply("ADDED", obj)
        ready.set()
        watcher = Watcher(
            kube, WORKFLOW_EXECUTIONS, resource_version=listed.resource_version, timeout_s=600
        )
        async with contextlib.aclosing(watcher.events()) as events:
            async for event in events:
                self.apply(event.type, event.object)


async def run(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    with KubeApiDouble.run_in_thread(bookmark_interval=1.0) as api:
        api.load_crd(CRD)
        api.register_tekton()
        api.seed(
            [
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
                for ns in (EXEC_NS, *NAMESPACES)
            ]
        )
        sim = TektonSimulator(api)
        registry = CollectorRegistry()
        metrics = WorkflowMetrics(registry)
        settings = WorkflowSettings(
            enabled=True,
            namespace=EXEC_NS,
            workers=args.workers,
            cooldown_s=0,
            resync_period_s=0,
            backoff=BackoffSettings(initial_s=0.02, max_s=1.0),
            leader_election=LeaderElectionSettings(enabled=False),
        )
        async with (
            ApiClient(api.aio_configuration()) as client,
            ApiClient(api.aio_configuration()) as watch_client,
            ApiClient(api.aio_configuration()) as user_client,
        ):
            controller = WorkflowController(
                kube=KubeClient(client),
                settings=settings,
                cluster_id="bench",
                audit=InMemoryAuditSink(),
                metrics=metrics,
            )
            tracker = RunningTracker()
            ready = asyncio.Event()
            follower = asyncio.create_task(tracker.follow(KubeClient(watch_client), ready))
            await ready.wait()
            await controller.start()
            user = KubeClient(user_client)
            targets = [f"prod/deployment/app-{i:03d}" for i in range(args.targets)]
            per_wave = args.executions // args.waves
            semaphore = asyncio.Semaphore(64)
            created_at: dict[str, float] = {}

            async def create(index: int, target: str) -> None:
                namespace = NAMESPACES[index % len(NAMESPACES)]
                body = {
                    "apiVersion": API_VERSION,
                    "kind": KIND,
                    "metadata": {"name": f"wfe-{index:05d}", "namespace": namespace},
                    "spec": {
                        "workflowRef": {
                            "workflowId": f"wf-{index % 3}",
                            "version": "1",
                            "containerImage": "quay.io/kubernaut/bench:1",
                        },
                        "targetResource": target,
                        "parameters": {"INDEX": str(index)},
                    },
                }
                async with semaphore:
                    await user.create(WORKFLOW_EXECUTIONS, namespace, body)
                created_at[f"{namespace}/wfe-{index:05d}"] = time.perf_counter()

            async with sim.auto(delay=args.run_time, decide=_decide) as driver:
                started = time.perf_counter()
                index = 0
                for _ in range(args.waves):
                    wave = [targets[i % len(targets)] for i in range(per_wave)]
                    rng.shuffle(wave)
                    await asyncio.gather(*(create(index + i, t) for i, t in enumerate(wave)))
                    index += per_wave
                    await asyncio.sleep(args.wave_gap)
                created = index
                try:
                    async with asyncio.timeout(args.timeout):
                        await tracker.wait_terminal(created)
                except TimeoutError:
                    print(f"TIMEOUT: {len(tracker.terminal)}/{created} terminal", file=sys.stderr)
                elapsed = time.perf_counter() - started
                driver_errors = list(driver.errors)
            await controller.stop()
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower

        objs = api.list_objects(API_VERSION, KIND)
        phases = Counter((o.get("status") or {}).get("phase") for o in objs)
        skips = Counter(
            o["status"]["skipDetails"]["reason"]
            for o in objs
            if (o.get("status") or {}).get("skipDetails")
        )
        ran = sum(1 for o in objs if (o.get("status") or {}).get("startTime"))
        prs = len(api.list_objects("tekton.dev/v1", "PipelineRun", EXEC_NS))
        leases = [
            lease
            for lease in api.list_objects("coordination.k8s.io/v1", "Lease", EXEC_NS)
            if lease["metadata"]["name"].startswith("wfe-lock-")
        ]
        requests = Counter(r.method for r in api.requests)
        by_resource = Counter(
            f"{r.method} {_resource_of(r.path)}{'(watch)' if r.is_watch else ''}"
            for r in api.requests
        )
        internal = list(api.internal_errors)

    def sample(name: str, **labels: str) -> float:
        return registry.get_sample_value(name, labels) or 0.0

    # Each execution from its creation (the API's answer) to its terminal phase, as the
    # watch on the real client path delivered it.
    latencies = sorted(
        tracker.terminal_at[key] - at
        for key, at in created_at.items()
        if key in tracker.terminal_at
    )

    print(
        f"executions: {created} over {args.targets} targets in {args.waves} waves, "
        f"{args.workers} workers, PipelineRuns last {args.run_time * 1000:.0f} ms"
    )
    print(f"time until all terminal: {elapsed:.2f} s ({created / elapsed:.0f} executions/s)")
    if latencies:
        print(
            f"time per execution: {elapsed / created * 1000:.1f} ms of the whole; creation to "
            f"terminal p50 {_quantile(latencies, 0.5) * 1000:.0f} ms, "
            f"p99 {_quantile(latencies, 0.99) * 1000:.0f} ms"
        )
    print(f"outcomes: {dict(phases)}; skips: {dict(skips)}")
    print(
        f"executions that ran: {ran}; PipelineRuns created: {prs} "
        f"(metric {sample('workflowexecution_pipelinerun_creation_total'):.0f})"
        f" -> {'OK' if prs == ran else 'MISMATCH'}"
    )
    print(
        f"max Running on one target at any moment: {tracker.max_per_target} "
        f"({tracker.events} watch events) -> {'OK' if tracker.max_per_target == 1 else 'BAD'}"
    )
    print(
        f"locks left: {len(leases)}; reconcile errors: "
        f"{sample('workflowexecution_reconcile_errors_total'):.0f}; API requests: "
        f"{dict(requests)}"
    )
    print(
        "requests by verb and resource: "
        + ", ".join(f"{k} {v}" for k, v in sorted(by_resource.items(), key=lambda kv: -kv[1]))
    )
    if driver_errors or internal:
        print(f"errors: simulator {driver_errors!r}, double {internal!r}", file=sys.stderr)
    ok = prs == ran and tracker.max_per_target == 1 and not leases and phases[None] == 0
    ok = ok and sum(phases[p] for p in TERMINAL) == created
    if args.json:
        print(
            json.dumps(
                {
                    "executions": created,
                    "targets": args.targets,
                    "workers": args.workers,
                    "wall_s": round(elapsed, 3),
                    "executions_per_s": round(created / elapsed, 1),
                    "ms_per_execution": round(elapsed / created * 1000, 2),
                    "latency_p50_ms": round(_quantile(latencies, 0.5) * 1000, 1),
                    "latency_p99_ms": round(_quantile(latencies, 0.99) * 1000, 1),
                    "outcomes": {str(k): v for k, v in phases.items()},
                    "pipelineruns": prs,
                    "ran": ran,
                    "max_running_per_target": tracker.max_per_target,
                    "api_requests": sum(requests.values()),
                    "ok": ok,
                    "machine": f"{platform.machine()} {os.cpu_count()} cpu, "
                    f"Python {platform.python_version()}",
                }
            )
        )
    return 0 if ok else 1


def _quantile(values: list[float], q: float) -> float:
    """The ``q`` quantile of sorted ``values`` (nearest rank); 0 for none."""
    if not values:
        return 0.0
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--executions", type=int, default=500)
    parser.add_argument("--targets", type=int, default=100)
    parser.add_argument("--waves", type=int, default=5)
    parser.add_argument("--wave-gap", type=float, default=0.05, help="seconds between waves")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--run-time", type=float, default=0.05, help="seconds a PipelineRun runs")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    sys.exit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
