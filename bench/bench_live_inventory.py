"""Benchmark: loading a live inventory of a 5,000-pod cluster from the Kubernetes API double.

Usage::

    .venv/bin/python bench/bench_live_inventory.py                  # 5,000 pods, pages of 500
    .venv/bin/python bench/bench_live_inventory.py --pods 20000 --page-size 500 --json

The double serves from its own thread (a real API server is another process) a cluster of
``--pods`` pods with the status a kubelet reports (conditions, container statuses), spread
over 50 namespaces, with their Deployments, ReplicaSets, Services and EndpointSlices, and
``--nodes`` nodes. The inventory is loaded through ``tests/unit/checks/live.py`` (the live
loader the check tests use: discovery, then every kind listed concurrently and paginated)
for the kinds the whole built-in catalogue reads, and again for the pods-only kinds of
REL-023. Seeding is not timed. It prints the best of ``--repeat`` loads, the objects and
list requests each took, with ``--time-checks`` each built-in check's warm time over the
loaded inventory (which, unlike bench_assessment's, carries the status, EndpointSlices and
nodes the live checks read), and with ``--json`` a last line holding the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.kubeapi (the double) and the check-test loader

from assay.server.checks import builtin_registry  # noqa: E402
from assay.server.checks.kit import Check  # noqa: E402
from assay.server.checks.kit.evaluate import evaluate  # noqa: E402
from assay.server.inventory import Inventory  # noqa: E402
from tests.kubeapi import KubeApiDouble  # noqa: E402
from tests.unit.checks.cluster_state import (  # noqa: E402
    Obj,
    deployment,
    endpoint_slice,
    node,
    pod,
    replica_set,
    running,
    service,
)
from tests.unit.checks.runs import live_inventory  # noqa: E402

NAMESPACES = 50
PODS_PER_APP = 5


def cluster(pods: int, nodes: int) -> list[Obj]:
    """``pods`` pods in apps of five, each app a Deployment, its ReplicaSet, a Service and an
    EndpointSlice, plus ``nodes`` nodes and the namespaces."""
    objects: list[Obj] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"team-{n}"}}
        for n in range(NAMESPACES)
    ]
    objects.extend(node(f"worker-{n}", zone=f"zone-{n % 3}") for n in range(nodes))
    for app in range((pods + PODS_PER_APP - 1) // PODS_PER_APP):
        namespace, name = f"team-{app % NAMESPACES}", f"app-{app}"
        rs_name = f"{name}-6d5f8"
        members = {}
        for replica in range(min(PODS_PER_APP, pods - app * PODS_PER_APP)):
            pod_name = f"{rs_name}-{replica:05d}"
            item = pod(
                pod_name,
                namespace,
                labels={"app": name, "pod-template-hash": "6d5f8"},
                owner=("ReplicaSet", rs_name),
                containers=[running("app"), running("envoy")],
            )
            item["spec"]["nodeName"] = f"worker-{(app + replica) % nodes}"
            objects.append(item)
            members[pod_name] = True
        objects.append(deployment(name, namespace, replicas=len(members), available=len(members)))
        objects.append(replica_set(rs_name, namespace, name))
        objects.append(service(name, namespace, {"app": name}))
        objects.append(endpoint_slice(name, namespace, members))
    return objects


async def load(
    api: KubeApiDouble, checks: Sequence[Check], page_size: int
) -> tuple[float, int, int, Inventory]:
    """Seconds to load, objects loaded, list requests made, and the inventory."""
    api.clear_requests()
    began = time.perf_counter()
    inventory = await live_inventory(api, [], checks=checks, page_size=page_size)
    seconds = time.perf_counter() - began
    lists = sum(1 for r in api.requests if r.method == "GET" and "limit" in dict(r.query))
    return seconds, len(inventory), lists, inventory


def time_checks(checks: Sequence[Check], inventory: Inventory, repeat: int) -> dict[str, float]:
    """Each check's best time over ``repeat`` warm evaluations, the collector paused."""
    for item in checks:
        evaluate(item, inventory)  # builds the shared indexes once
    gc.collect()
    gc.disable()
    try:
        best: dict[str, float] = {}
        for item in checks:
            for _ in range(repeat):
                began = time.perf_counter()
                evaluate(item, inventory)
                elapsed = time.perf_counter() - began
                best[item.id] = min(best.get(item.id, elapsed), elapsed)
        return best
    finally:
        gc.enable()


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    catalogue = builtin_registry().all()
    pods_only = [builtin_registry().get("REL-023")]
    objects = cluster(args.pods, args.nodes)
    figures: dict[str, Any] = {"pods": args.pods, "objects_seeded": len(objects)}
    with KubeApiDouble.run_in_thread() as api:
        api.seed(objects)
        for label, checks in (("catalogue", catalogue), ("rel023", pods_only)):
            runs = [await load(api, checks, args.page_size) for _ in range(args.repeat)]
            best = min(runs, key=lambda run: run[0])
            if args.time_checks and label == "catalogue":
                seconds = time_checks(catalogue, best[3], args.repeat)
                figures["checks_s"] = {k: round(v, 4) for k, v in seconds.items()}
            figures[label] = {
                "kinds": len({k for c in checks for k in c.definition.kinds}),
                "best_s": round(best[0], 3),
                "all_s": [round(r[0], 3) for r in runs],
                "objects": best[1],
                "list_requests": best[2],
            }
    return figures


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=5_000)
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5, help="loads per kind set; best counts")
    parser.add_argument(
        "--time-checks",
        action="store_true",
        help="also time every built-in check over the loaded inventory (warm, best of --repeat)",
    )
    parser.add_argument("--json", action="store_true", help="end with a JSON line of figures")
    args = parser.parse_args(argv)
    figures = asyncio.run(measure(args))
    print(
        f"python {sys.version.split()[0]}: {args.pods:,} pods, {args.nodes} nodes, "
        f"{figures['objects_seeded']:,} objects seeded, pages of {args.page_size}"
    )
    for label, title in (
        ("catalogue", "kinds of every built-in check"),
        ("rel023", "REL-023 kinds"),
    ):
        f = figures[label]
        print(
            f"  {title:32} {f['kinds']:>3} kinds  {f['objects']:>7,} objects  "
            f"{f['list_requests']:>4} list requests  best {f['best_s']:.3f}s  (runs {f['all_s']})"
        )
    for check_id, seconds in figures.get("checks_s", {}).items():
        print(f"  {check_id:10} {seconds * 1000:9.1f} ms")
    if args.json:
        print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
