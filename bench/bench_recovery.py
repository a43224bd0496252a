"""Benchmark: how soon the workflow controller works again after a Kubernetes API outage.

Usage::

    .venv/bin/python bench/bench_recovery.py                      # 20 s outage, 3 trials
    .venv/bin/python bench/bench_recovery.py --outage 20 --trials 5 --mode 503 --json

Each trial starts a fresh kube API double (in its own thread, as a real API server is
another process) with the real CRD and Tekton's, and a :class:`WorkflowController` with the
production defaults of :class:`WorkflowSettings` (backoff, leader election, resync), except
the cooldown (0, so targets can be reused). The Tekton simulator ends every PipelineRun
``--run-time`` seconds after it appears. A trial:

1. runs one execution end to end (warm-up: the controller is leading and watching);
2. creates ``--in-flight`` executions on distinct targets and waits until they are Running;
3. makes the API unavailable for ``--outage`` seconds: ``refused`` stops the double's HTTP
   server (open watches and keep-alive connections are cut, new connections refused, as
   when the API server restarts); ``503`` answers every request, ``/readyz`` included,
   with 503 Service Unavailable and ends the open watches (a load balancer with no
   healthy API server behind it). The PipelineRuns finish meanwhile (the simulator writes
   to the double's store directly, as Tekton would through a healthy API server);
   The outage starts at a random moment (``--seed``) so that it does not fall in the same
   phase of the controller's periodic loops in every trial;
4. brings the API back and, at that moment, creates one more execution.

Times are taken when the double's store records the change (a store subscriber), never
through the code under test, and are measured from the API's return:

- ``first``: the next execution to reach a terminal phase (the issue's measure);
- ``in_flight``: every execution that was Running during the outage is terminal;
- ``new``: the execution created at the return is Running (its PipelineRun exists): the
  WorkflowExecution watch is back and reconciles run; its ``--run-time`` is not counted.

It prints each trial and min / median / max of each figure; with ``--json`` the last line
is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import json
import logging
import random
import statistics
import sys
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from kubernetes.aio.client import ApiClient
from prometheus_client import CollectorRegistry

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.kubeapi (the double) and the in-memory sink

from assay.server.kube.client import KubeClient  # noqa: E402
from assay.server.kube.settings import LeaderElectionSettings  # noqa: E402
from assay.server.observability.workflow_metrics import WorkflowMetrics  # noqa: E402
from assay.server.workflow.controller import WorkflowController  # noqa: E402
from assay.server.workflow.model import API_VERSION, KIND, WORKFLOW_EXECUTIONS, Phase  # noqa: E402
from assay.server.workflow.settings import WorkflowSettings  # noqa: E402
from tests.kubeapi import KubeApiDouble, TektonSimulator  # noqa: E402
from tests.kubeapi.store import StoredEvent  # noqa: E402
from tests.unit.workflow.fakes import InMemoryAuditSink  # noqa: E402

CRD = ROOT / "deploy" / "crds" / "workflowexecution.yaml"
EXEC_NS = "kubernaut-workflows"
NS = "team-a"
TERMINAL = {Phase.COMPLETED.value, Phase.FAILED.value, Phase.SKIPPED.value}
MODES = ("refused", "503")

T = TypeVar("T")


class DoubleThread:
    """The double served from a thread with its own loop, which the bench can stop and
    restart on the same port (``KubeApiDouble.run_in_thread`` does not expose its loop)."""

    def __init__(self, api: KubeApiDouble) -> None:
        self.api = api
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="kube-api-double", daemon=True
        )

    @contextlib.contextmanager
    def running(self) -> Iterator[DoubleThread]:
        self._thread.start()
        try:
            self._wait(self.api.start())
            yield self
        finally:
            with contextlib.suppress(Exception):
                self._wait(self.api.stop())
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=30)
            self.loop.close()
        self.api.check_internal_errors()

    def _wait(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the double's loop and await it from the bench's."""
        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return await asyncio.wrap_future(future)

    async def break_api(self, mode: str) -> None:
        if mode == "refused":
            await self.run(self.api.stop())
        else:
            self.api.inject(status=503, times=None, reason="ServiceUnavailable")
            self.loop.call_soon_threadsafe(self.api.hub.close_all)

    async def restore_api(self, mode: str) -> None:
        if mode == "refused":
            await self.run(self.api.start())
        else:
            self.api.clear_injections()


class Phases:
    """When each WorkflowExecution first reached Running and a terminal phase, as the
    double's store records it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.at: dict[str, float] = {}  # terminal
        self.running_at: dict[str, float] = {}
        self.changed = asyncio.Event()

    def on_store_event(self, event: StoredEvent) -> None:  # on the double's thread
        obj = event.object
        if obj.get("kind") != KIND:
            return
        phase = (obj.get("status") or {}).get("phase")
        name = str(obj["metadata"]["name"])
        if phase == Phase.RUNNING.value and name not in self.running_at:
            self.running_at[name] = time.perf_counter()
        elif phase in TERMINAL and name not in self.at:
            self.at[name] = time.perf_counter()
            self._loop.call_soon_threadsafe(self.changed.set)

    async def wait(self, names: list[str], within: float) -> None:
        async with asyncio.timeout(within):
            while not all(n in self.at for n in names):
                self.changed.clear()
                await self.changed.wait()


@dataclass
class Trial:
    first: float
    in_flight: float
    new: float
    phases: dict[str, int] = field(default_factory=dict)


def _body(name: str, index: int) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "workflowRef": {
                "workflowId": "restart-pods",
                "version": "1",
                "containerImage": "quay.io/kubernaut/bench:1",
            },
            "targetResource": f"prod/deployment/app-{index:03d}",
        },
    }


async def _wait_running(api: KubeApiDouble, names: list[str], within: float) -> None:
    async with asyncio.timeout(within):
        for name in names:
            await api.wait_for_object(
                API_VERSION,
                KIND,
                name,
                NS,
                predicate=lambda o: (
                    (o.get("status") or {}).get("phase") in (Phase.RUNNING.value, *TERMINAL)
                ),
                within=within,
            )


async def trial(args: argparse.Namespace, number: int, rng: random.Random) -> Trial:
    api = KubeApiDouble(bookmark_interval=60.0)  # a real API server bookmarks about once a min
    api.load_crd(CRD)
    api.register_tekton()
    api.seed(
        [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
            for ns in (EXEC_NS, NS)
        ]
    )
    terminal = Phases(asyncio.get_running_loop())
    api.store.subscribe(terminal.on_store_event)
    settings = WorkflowSettings(
        enabled=True,
        namespace=EXEC_NS,
        cooldown_s=0,
        leader_election=LeaderElectionSettings(
            enabled=args.leader_election, identity=f"bench-{number}"
        ),
    )
    sim = TektonSimulator(api)
    with DoubleThread(api).running() as double:
        async with (
            ApiClient(api.aio_configuration()) as client,
            ApiClient(api.aio_configuration()) as user_client,
            sim.auto(delay=args.run_time),
        ):
            controller = WorkflowController(
                kube=KubeClient(client),
                settings=settings,
                cluster_id="bench",
                audit=InMemoryAuditSink(),
                metrics=WorkflowMetrics(CollectorRegistry()),
            )
            await controller.start()
            user = KubeClient(user_client)
            try:
                await user.create(WORKFLOW_EXECUTIONS, NS, _body("warm-up", 0))
                await terminal.wait(["warm-up"], args.timeout)
                in_flight = [f"in-flight-{i}" for i in range(args.in_flight)]
                for i, name in enumerate(in_flight):
                    await user.create(WORKFLOW_EXECUTIONS, NS, _body(name, i + 1))
                await _wait_running(api, in_flight, args.timeout)

                # At a random moment: every loop of the controller (the elector's 2 s
                # retries, above all) would otherwise meet the outage, and the return, in
                # the same phase trial after trial.
                await asyncio.sleep(rng.uniform(0, 2.0))
                await double.break_api(args.mode)
                await asyncio.sleep(args.outage)
                await double.restore_api(args.mode)
                back = time.perf_counter()
                await user.create(WORKFLOW_EXECUTIONS, NS, _body("new", args.in_flight + 1))
                await terminal.wait([*in_flight, "new"], args.timeout)
            finally:
                await controller.stop()
    objs = api.list_objects(API_VERSION, KIND, NS)
    phases: dict[str, int] = {}
    for obj in objs:
        phase = str((obj.get("status") or {}).get("phase") or "")
        phases[phase] = phases.get(phase, 0) + 1
    after = {n: at - back for n, at in terminal.at.items() if at >= back}
    return Trial(
        first=min(after.values()),
        in_flight=max(after.get(n, 0.0) for n in in_flight),
        new=terminal.running_at["new"] - back,
        phases=phases,
    )


def _stats(values: list[float]) -> dict[str, float]:
    return {
        "min": round(min(values), 3),
        "median": round(statistics.median(values), 3),
        "max": round(max(values), 3),
    }


async def run(args: argparse.Namespace) -> int:
    trials: list[Trial] = []
    rng = random.Random(args.seed)
    for number in range(1, args.trials + 1):
        result = await trial(args, number, rng)
        trials.append(result)
        print(
            f"trial {number}: after the API returned, first terminal {result.first:.2f} s, "
            f"all in flight {result.in_flight:.2f} s, new execution Running {result.new:.2f} s; "
            f"phases {result.phases}",
            flush=True,
        )
    figures = {
        "first_terminal_s": _stats([t.first for t in trials]),
        "all_in_flight_s": _stats([t.in_flight for t in trials]),
        "new_running_s": _stats([t.new for t in trials]),
    }
    print(
        f"{args.trials} trials, {args.outage:g} s outage ({args.mode}), {args.in_flight} "
        f"executions in flight, PipelineRuns {args.run_time:g} s, leader election "
        f"{'on' if args.leader_election else 'off'}"
    )
    for name, stats in figures.items():
        print(
            f"  {name:18} min {stats['min']:6.2f}  median {stats['median']:6.2f}  "
            f"max {stats['max']:6.2f}"
        )
    ok = all(t.phases.get(Phase.COMPLETED.value, 0) == args.in_flight + 2 for t in trials)
    if args.json:
        print(
            json.dumps(
                {
                    "bench": "recovery",
                    "outage_s": args.outage,
                    "mode": args.mode,
                    "trials": args.trials,
                    "in_flight": args.in_flight,
                    "leader_election": args.leader_election,
                    **figures,
                    "per_trial": [
                        {
                            "first_terminal_s": t.first,
                            "all_in_flight_s": t.in_flight,
                            "new_running_s": t.new,
                        }
                        for t in trials
                    ],
                    "ok": ok,
                }
            )
        )
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--outage", type=float, default=20.0, help="seconds the API is away")
    parser.add_argument("--mode", choices=MODES, default="refused")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--in-flight", type=int, default=5)
    parser.add_argument("--run-time", type=float, default=2.0, help="seconds a PipelineRun runs")
    parser.add_argument(
        "--leader-election",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="elect a leader with a Lease, as `assay serve` does by default",
    )
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=7, help="of the outages' start times")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--verbose", action="store_true", help="show the controller's logs")
    args = parser.parse_args()
    # Retries during the outage log a warning each; the figures are the point here.
    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR)
    if args.run_time >= args.outage:
        parser.error("--run-time must be shorter than --outage (runs end during the outage)")
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
