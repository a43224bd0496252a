"""Benchmark: a full assessment run over synthetic inventories, results persisted to SQLite.

Usage::

    .venv/bin/python bench/bench_assessment.py              # 10,000 and 50,000 objects
    .venv/bin/python bench/bench_assessment.py --sizes 2000 10000 50000
    .venv/bin/python bench/bench_assessment.py --metrics   # with metrics.k8s.io samples

For each size it prints

- the time to build the inventory (``Inventory.from_objects``: indexing by kind/namespace),
- the built-in checks run one after the other over a fresh inventory ("cold": the lazy
  indexes are built by the first check that needs them), then each check's best time over
  ``--repeat`` further passes with the garbage collector paused ("warm": a collection of the
  whole heap can land in any check and double its time, hiding its own cost), so a check
  whose algorithm grows faster than the inventory shows,
- a full run through the real Runner and StorageSink into a SQLite file in a temp dir:
  wall time, the time the sink spent in the database, and the result count,

then how each figure grows from one size to the next (a linear figure grows by the size
ratio; per-object lookups through the inventory's indexes keep cross-object checks linear).

The synthetic cluster is made of "apps" in 200 namespaces: a Deployment, its ReplicaSet, two
Pods owned by it, a Service, a ConfigMap (referenced by every other app), and a
PodDisruptionBudget or HorizontalPodAutoscaler on alternate apps, plus nodes and jobs. With
``--metrics`` every pod and node also has its metrics-server sample (PodMetrics, NodeMetrics),
so the metrics checks have something to judge.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from assay.server.assessment.requests import RunRequest
from assay.server.assessment.runner import Runner
from assay.server.assessment.settings import AssessmentSettings
from assay.server.assessment.sink import CancelOutcome
from assay.server.checks import builtin_registry
from assay.server.checks.kit.catalogue import Catalogue
from assay.server.checks.kit.evaluate import evaluate
from assay.server.checks.kit.registry import Registry
from assay.server.core.types import AssessmentResult, HistoryEntry, Run, RunId, Source
from assay.server.inventory.model import Inventory
from assay.server.storage.engine import create_engine_from_url, migrate
from assay.server.storage.repository import Repository
from assay.server.storage.sink import StorageSink

NAMESPACES = 200
OBJECTS_PER_APP = 7.5  # average: 7 objects per app plus a PDB or an HPA every other app


def _meta(kind: str, name: str, namespace: str, **extra: Any) -> dict[str, Any]:
    api = {
        "Deployment": "apps/v1",
        "ReplicaSet": "apps/v1",
        "Job": "batch/v1",
        "PodDisruptionBudget": "policy/v1",
        "HorizontalPodAutoscaler": "autoscaling/v2",
    }.get(kind, "v1")
    meta: dict[str, Any] = {"name": name, "namespace": namespace, **extra}
    return {"apiVersion": api, "kind": kind, "metadata": meta}


def _pod_spec(app: int) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "app",
        "image": f"registry.example/app-{app % 50}:1.{app % 7}",
        "ports": [{"containerPort": 8080}],
    }
    if app % 3:
        container["resources"] = {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"memory": "256Mi"},
        }
    if app % 4:
        container["readinessProbe"] = {"httpGet": {"path": "/ready", "port": 8080}}
    if app % 5 == 0:
        container["securityContext"] = {"privileged": True}
    spec: dict[str, Any] = {"containers": [container], "nodeName": f"node-{app % 20}"}
    if app % 2:
        spec["securityContext"] = {"runAsNonRoot": True, "runAsUser": 10001}
    if app % 2 == 0:
        spec["volumes"] = [{"name": "cfg", "configMap": {"name": f"cfg-{app}"}}]
    return spec


def _pod_metrics(name: str, namespace: str, app: int) -> dict[str, Any]:
    usage = {"cpu": f"{(app * 37) % 400 + 5}m", "memory": f"{(app * 53) % 300 + 20}Mi"}
    return {
        "apiVersion": "metrics.k8s.io/v1beta1",
        "kind": "PodMetrics",
        "metadata": {"name": name, "namespace": namespace},
        "timestamp": "2026-01-01T00:00:00Z",
        "window": "30s",
        "containers": [{"name": "app", "usage": usage}],
    }


def _app(app: int, metrics: bool = False) -> list[dict[str, Any]]:
    ns = f"team-{app % NAMESPACES}"
    name = f"app-{app}"
    labels = {"app.kubernetes.io/name": name, "app": name}
    if app % 3 == 0:
        labels["app.kubernetes.io/version"] = "1.0"
    template = {"metadata": {"labels": labels}, "spec": _pod_spec(app)}
    deployment = _meta("Deployment", name, ns, labels=labels, uid=f"d-{app}")
    deployment["spec"] = {
        "replicas": 2 + app % 3,
        "selector": {"matchLabels": {"app": name}},
        "template": template,
    }
    rs_name = f"{name}-7d9f"
    owner = {"kind": "Deployment", "name": name, "controller": True, "uid": f"d-{app}"}
    replicaset = _meta("ReplicaSet", rs_name, ns, labels=labels, ownerReferences=[owner])
    replicaset["spec"] = {"replicas": 2, "selector": {"matchLabels": {"app": name}}}
    replicaset["spec"]["template"] = template
    objects = [deployment, replicaset]
    rs_owner = {"kind": "ReplicaSet", "name": rs_name, "controller": True}
    for replica in range(2):
        pod = _meta("Pod", f"{rs_name}-{replica}", ns, labels=labels, ownerReferences=[rs_owner])
        pod["spec"] = _pod_spec(app)
        pod["status"] = {"phase": "Running"}
        objects.append(pod)
        if metrics:
            objects.append(_pod_metrics(pod["metadata"]["name"], ns, app + replica))
    service = _meta("Service", name, ns, labels=labels)
    service["spec"] = {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]}
    objects.append(service)
    objects.append(_meta("ConfigMap", f"cfg-{app}", ns) | {"data": {"key": "value"}})
    if app % 2 == 0:
        pdb = _meta("PodDisruptionBudget", name, ns)
        pdb["spec"] = {"minAvailable": 1, "selector": {"matchLabels": {"app": name}}}
        objects.append(pdb)
    else:
        hpa = _meta("HorizontalPodAutoscaler", name, ns)
        hpa["spec"] = {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": 2,
            "maxReplicas": 10,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 70},
                    },
                }
            ],
        }
        objects.append(hpa)
    return objects


def synthetic_objects(size: int, *, metrics: bool = False) -> list[dict[str, Any]]:
    """About ``size`` objects (exactly, after trimming) shaped like a busy cluster."""
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"team-{n}"}}
        for n in range(NAMESPACES)
    ]
    for node in range(20):
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": f"node-{node}"},
                "status": {"allocatable": {"cpu": "16", "memory": "64Gi", "pods": "110"}},
            }
        )
        if metrics:
            objects.append(
                {
                    "apiVersion": "metrics.k8s.io/v1beta1",
                    "kind": "NodeMetrics",
                    "metadata": {"name": f"node-{node}"},
                    "timestamp": "2026-01-01T00:00:00Z",
                    "window": "20s",
                    "usage": {"cpu": f"{node % 16}", "memory": f"{node * 3}Gi"},
                }
            )
    app = 0
    while len(objects) < size:
        objects.extend(_app(app, metrics))
        if app % 10 == 0:
            job = _meta("Job", f"batch-{app}", f"team-{app % NAMESPACES}")
            job["spec"] = {"template": {"spec": _pod_spec(app) | {"restartPolicy": "Never"}}}
            job["status"] = {"succeeded": 1, "completionTime": "2026-01-01T00:00:00Z"}
            objects.append(job)
        app += 1
    return objects[:size]


@dataclass
class TimingSink:
    """Wraps the StorageSink and adds up the time spent in each call."""

    inner: StorageSink
    seconds: dict[str, float] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)

    async def _timed(self, name: str, coro: Any) -> None:
        began = time.perf_counter()
        try:
            await coro
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - began
            self.calls[name] = self.calls.get(name, 0) + 1

    async def create_run(self, run: Run) -> None:
        await self._timed("create_run", self.inner.create_run(run))

    async def update_run(self, run: Run) -> None:
        await self._timed("update_run", self.inner.update_run(run))

    async def add_results(self, results: Sequence[AssessmentResult], *, run: Run) -> None:
        await self._timed("add_results", self.inner.add_results(results, run=run))

    async def finish_run(self, run: Run, history: HistoryEntry) -> None:
        await self._timed("finish_run", self.inner.finish_run(run, history))

    async def request_cancel(
        self, run_id: RunId, reason: str, *, now: datetime, stale_before: datetime, dead_reason: str
    ) -> tuple[Run, CancelOutcome]:
        return await self.inner.request_cancel(
            run_id, reason, now=now, stale_before=stale_before, dead_reason=dead_reason
        )

    @property
    def total(self) -> float:
        return sum(self.seconds.values())


@dataclass
class Figures:
    size: int
    inventory_s: float
    cold_checks_s: float
    checks_s: dict[str, float]
    run_wall_s: float
    persist_s: float
    results: int
    state: str
    db_bytes: int

    @property
    def checks_total_s(self) -> float:
        return sum(self.checks_s.values())


class StaticProvider:
    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory

    async def load(self, request: RunRequest, checks: Sequence[Any]) -> Inventory:
        return self.inventory


def _build(objects: list[dict[str, Any]]) -> tuple[Inventory, float]:
    # from_objects takes ownership and may write default namespaces: give it fresh dicts.
    fresh = [dict(o, metadata=dict(o["metadata"])) for o in objects]
    began = time.perf_counter()
    inventory = Inventory.from_objects(fresh, source=Source.LIVE)
    return inventory, time.perf_counter() - began


def _time_checks(registry: Registry, inventory: Inventory) -> dict[str, float]:
    seconds = {}
    for item in registry.all():
        began = time.perf_counter()
        evaluate(item, inventory)
        seconds[item.id] = time.perf_counter() - began
    return seconds


async def measure(
    size: int, registry: Registry, workdir: Path, repeat: int, *, metrics: bool = False
) -> Figures:
    objects = synthetic_objects(size, metrics=metrics)
    inventory, inventory_s = _build(objects)
    cold_checks_s = sum(_time_checks(registry, inventory).values())
    gc.collect()
    gc.disable()
    try:
        passes = [_time_checks(registry, inventory) for _ in range(max(1, repeat))]
    finally:
        gc.enable()
    checks_s = {check_id: min(p[check_id] for p in passes) for check_id in passes[0]}

    fresh, _ = _build(objects)
    database = workdir / f"bench-{size}.db"
    engine = create_engine_from_url(f"sqlite:///{database}")
    try:
        migrate(engine)
        sink = TimingSink(StorageSink(Repository(engine)))
        runner = Runner(
            catalogue=Catalogue(registry),
            sink=sink,
            inventories={Source.LIVE: StaticProvider(fresh)},
            settings=AssessmentSettings(check_timeout_s=600, run_timeout_s=None),
            cluster_id="bench",
        )
        began = time.perf_counter()
        queued = await runner.start(RunRequest(source=Source.LIVE))
        run = await runner.wait(queued.run_id)
        wall = time.perf_counter() - began
    finally:
        engine.dispose()
    return Figures(
        size=size,
        inventory_s=inventory_s,
        cold_checks_s=cold_checks_s,
        checks_s=checks_s,
        run_wall_s=wall,
        persist_s=sink.total,
        results=run.counts.total,
        state=str(run.state),
        db_bytes=database.stat().st_size,
    )


def report(all_figures: list[Figures]) -> None:
    print(f"python {sys.version.split()[0]}, {len(all_figures[0].checks_s)} built-in checks\n")
    header = f"{'':28}" + "".join(f"{f.size:>14,}" for f in all_figures)
    print(header + "   growth")

    def row(label: str, values: list[float], unit: str = "s") -> None:
        cells = "".join(f"{v:>13.3f}{unit}" if unit else f"{v:>14,.1f}" for v in values)
        growth = "  ".join(f"x{b / a:.2f}" if a else "-" for a, b in itertools.pairwise(values))
        print(f"{label:28}{cells}   {growth}")

    row("objects", [float(f.size) for f in all_figures], unit="")
    row("inventory build", [f.inventory_s for f in all_figures])
    row("checks alone, cold (sum)", [f.cold_checks_s for f in all_figures])
    row("checks alone, warm (sum)", [f.checks_total_s for f in all_figures])
    for check_id in all_figures[0].checks_s:
        row(f"  {check_id}", [f.checks_s[check_id] for f in all_figures])
    row("full run, wall", [f.run_wall_s for f in all_figures])
    row("  of which in the sink", [f.persist_s for f in all_figures])
    row("results persisted", [float(f.results) for f in all_figures], unit="")
    row("results per second (run)", [f.results / f.run_wall_s for f in all_figures], unit="")
    row("SQLite file (MB)", [f.db_bytes / 1e6 for f in all_figures], unit="")
    print("\nrun states:", ", ".join(f"{f.size:,}: {f.state}" for f in all_figures))
    if len(all_figures) > 1:
        ratio = all_figures[-1].size / all_figures[0].size
        print(f"size ratio first -> last: x{ratio:.1f}; linear growth means about that factor")


async def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--repeat", type=int, default=3, help="warm passes per check")
    parser.add_argument(
        "--metrics", action="store_true", help="add PodMetrics and NodeMetrics samples"
    )
    args = parser.parse_args(argv)
    registry = builtin_registry()
    with tempfile.TemporaryDirectory(prefix="assay-bench-") as workdir:
        figures = [
            await measure(size, registry, Path(workdir), args.repeat, metrics=args.metrics)
            for size in args.sizes
        ]
    report(figures)


if __name__ == "__main__":
    asyncio.run(main())
