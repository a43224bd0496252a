"""Benchmark: listing pods with the server's raw-JSON client vs the official model classes.

Usage::

    .venv/bin/python bench/bench_kube.py                 # 5,000 pods, 3 rounds
    .venv/bin/python bench/bench_kube.py --pods 20000 --json

The API test double serves from its own thread (a real API server is another process). Each
round lists every pod across namespaces, 500 per page, once with
``assay.server.kube.client.KubeClient.list`` (raw JSON, large pages parsed in a thread) and
once with ``kubernetes.aio``'s ``CoreV1Api.list_pod_for_all_namespaces`` (model classes),
and reports the best round of each and how often the event loop stalled for more than
50 ms while it ran. With ``--json`` the last line is a JSON object of the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from kubernetes.aio.client import ApiClient, CoreV1Api

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.kubeapi (the double)

from assay.server.kube.client import KubeClient  # noqa: E402
from assay.server.kube.resources import PODS  # noqa: E402
from tests.kubeapi import KubeApiDouble  # noqa: E402

PAGE = 500


def pod(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"app-{i:06d}",
            "namespace": f"team-{i % 20:02d}",
            "labels": {"app": f"app-{i % 300}", "tier": "web"},
            "annotations": {"owner": "bench", "revision": str(i)},
        },
        "spec": {
            "nodeName": f"node-{i % 50}",
            "containers": [
                {
                    "name": "app",
                    "image": "registry.example/app:1.2.3",
                    "resources": {
                        "requests": {"cpu": "100m", "memory": "128Mi"},
                        "limits": {"memory": "256Mi"},
                    },
                    "securityContext": {"runAsNonRoot": True, "readOnlyRootFilesystem": True},
                    "env": [{"name": f"VAR_{k}", "value": str(k)} for k in range(5)],
                }
            ],
        },
        "status": {"phase": "Running", "podIP": f"10.0.{i // 250}.{i % 250}"},
    }


async def timed(fn: Callable[[], Awaitable[int]]) -> tuple[float, int, int]:
    """Seconds, items, and event-loop stalls over 50 ms while ``fn`` ran."""
    stalls = 0
    done = asyncio.Event()

    async def watchdog() -> None:
        nonlocal stalls
        loop = asyncio.get_running_loop()
        while not done.is_set():
            before = loop.time()
            await asyncio.sleep(0.01)
            if loop.time() - before > 0.06:
                stalls += 1

    dog = asyncio.create_task(watchdog())
    started = time.perf_counter()
    count = await fn()
    elapsed = time.perf_counter() - started
    done.set()
    await dog
    return elapsed, count, stalls


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with KubeApiDouble.run_in_thread(namespaces=[f"team-{n:02d}" for n in range(20)]) as api:
        api.seed(pod(i) for i in range(args.pods))
        async with ApiClient(api.aio_configuration()) as models_client:
            kube = KubeClient(ApiClient(api.aio_configuration()))
            core = CoreV1Api(models_client)

            async def raw() -> int:
                return len((await kube.list(PODS, page_size=PAGE)).items)

            async def models() -> int:
                count, token = 0, None
                while True:
                    page = await core.list_pod_for_all_namespaces(limit=PAGE, _continue=token)
                    count += len(page.items)
                    token = page.metadata._continue if page.metadata else None
                    if not token:
                        return count

            results: dict[str, list[tuple[float, int, int]]] = {"raw": [], "models": []}
            for _ in range(args.rounds):
                results["raw"].append(await timed(raw))
                results["models"].append(await timed(models))
            await kube.close()
    best = {name: min(rounds) for name, rounds in results.items()}
    return {
        "pods": args.pods,
        "raw_s": round(best["raw"][0], 3),
        "models_s": round(best["models"][0], 3),
        "speedup": round(best["models"][0] / best["raw"][0], 1),
        "raw_loop_stalls": best["raw"][2],
        "models_loop_stalls": best["models"][2],
        "items": best["raw"][1],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="end with a JSON line")
    args = parser.parse_args()
    figures = asyncio.run(run(args))
    print(f"{figures['pods']} pods, best of {args.rounds} rounds, pages of {PAGE}:")
    print(
        f"  raw JSON client  {figures['raw_s']:8.3f} s  loop stalls > 50 ms: "
        f"{figures['raw_loop_stalls']}"
    )
    print(
        f"  model classes    {figures['models_s']:8.3f} s  loop stalls > 50 ms: "
        f"{figures['models_loop_stalls']}"
    )
    print(f"  speed-up         {figures['speedup']:8.1f} x")
    if args.json:
        print(json.dumps(figures))
    return 0 if figures["items"] == args.pods else 1


if __name__ == "__main__":
    raise SystemExit(main())
