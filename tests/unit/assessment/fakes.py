"""Test doubles for the runner: an in-memory sink, inventory providers, tiny checks.

Also a pytest plugin (listed in tests/conftest.py) for the ``gate`` fixture.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest

from assay.server.assessment.requests import ManifestTree, RunRequest
from assay.server.assessment.sink import CancelOutcome
from assay.server.checks.kit.definition import Check, CheckDefinition, Context, Finding, check
from assay.server.checks.kit.registry import Registry
from assay.server.core.errors import AlreadyExists, NotFound, Unavailable
from assay.server.core.types import (
    AssessmentResult,
    HistoryEntry,
    ObjectRef,
    Pillar,
    Run,
    RunId,
    Severity,
    Source,
    Status,
)
from assay.server.inventory.model import Inventory

PREFIX_PILLAR = {p.prefix: p for p in Pillar}


def pod(name: str, namespace: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
    }


def small_inventory(pods: int = 3) -> Inventory:
    return Inventory.from_objects([pod(f"p{i}") for i in range(pods)])


def ref(name: str) -> ObjectRef:
    return ObjectRef("Pod", name, "default")


def definition(check_id: str, *, severity: Severity = Severity.MEDIUM) -> CheckDefinition:
    return CheckDefinition(
        id=check_id,
        pillar=PREFIX_PILLAR[check_id.split("-")[0]],
        name=f"fake {check_id}",
        description="a fake check for runner tests",
        severity=severity,
        scope="W",
        remediation=f"fix {check_id}",
        kinds=("Pod",),
    )


def fake_check(
    check_id: str,
    fn: Callable[[Inventory], Iterable[Finding]],
    *,
    severity: Severity = Severity.MEDIUM,
) -> Check:
    """A check whose body is ``fn`` over the inventory (these fakes take no parameters)."""

    def body(ctx: Context[Any]) -> Iterable[Finding]:
        return fn(ctx.inventory)

    return check(definition(check_id, severity=severity))(body)


def per_pod(status: Status) -> Callable[[Inventory], list[Finding]]:
    """A check that gives every pod ``status``."""

    def judge(inventory: Inventory) -> list[Finding]:
        return [
            Finding(status, ObjectRef("Pod", p["metadata"]["name"], "default"), "app", "fake")
            for p in inventory.objects("Pod")
        ]

    return judge


def raises(message: str) -> Callable[[Inventory], list[Finding]]:
    def boom(inventory: Inventory) -> list[Finding]:
        raise ValueError(message)

    return boom


@dataclass
class Gate:
    """A check body that blocks its thread until released (never a long sleep)."""

    release: threading.Event = field(default_factory=threading.Event)
    entered: threading.Event = field(default_factory=threading.Event)
    returned: threading.Event = field(default_factory=threading.Event)

    def __call__(self, inventory: Inventory) -> list[Finding]:
        self.entered.set()
        try:
            self.release.wait()
            return [Finding.failing(ref("late"), "finished after its timeout")]
        finally:
            self.returned.set()


@pytest.fixture
def gate() -> Iterator[Gate]:
    """A blocking check body, released at teardown so its thread ends with the test."""
    blocker = Gate()
    yield blocker
    blocker.release.set()
    if blocker.entered.is_set():
        assert blocker.returned.wait(5)


def registry(*checks: Check) -> Registry:
    return Registry(checks)


@dataclass
class MemorySink:
    """A RunSink keeping everything in memory; ``fail`` names methods that raise
    Unavailable, ``shared`` lets two sinks (two replicas) see one set of run ids."""

    runs: dict[RunId, Run] = field(default_factory=dict)
    results: list[AssessmentResult] = field(default_factory=list)
    history: dict[RunId, HistoryEntry] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    fail: set[str] = field(default_factory=set)
    cancel_requests: dict[RunId, str] = field(default_factory=dict)

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if name in self.fail:
            raise Unavailable(f"database is down ({name})")

    async def create_run(self, run: Run) -> None:
        self._call("create_run")
        if run.run_id in self.runs:
            raise AlreadyExists(f"run {run.run_id!r} already exists")
        self.runs[run.run_id] = run

    async def update_run(self, run: Run) -> None:
        self._call("update_run")
        self.runs[run.run_id] = run

    def prepare(self, results: Sequence[AssessmentResult]) -> object:
        return None

    async def add_results(
        self, results: Sequence[AssessmentResult], *, run: Run, prepared: object = None
    ) -> None:
        self._call("add_results")
        self.results.extend(results)
        self.runs[run.run_id] = run

    async def finish_run(self, run: Run, history: HistoryEntry) -> None:
        self._call("finish_run")
        self.runs[run.run_id] = run
        self.history[run.run_id] = history

    async def request_cancel(
        self, run_id: RunId, reason: str, *, now: datetime, stale_before: datetime, dead_reason: str
    ) -> tuple[Run, CancelOutcome]:
        """Stores the request (no owners here: every unfinished run is another's, alive)."""
        self._call("request_cancel")
        run = self.runs.get(run_id)
        if run is None:
            raise NotFound("run", run_id)
        if run.state.terminal:
            return run, CancelOutcome.ENDED
        self.cancel_requests[run_id] = reason
        return run, CancelOutcome.REQUESTED

    def results_of(self, run_id: RunId) -> list[AssessmentResult]:
        return [r for r in self.results if r.run_id == run_id]


@dataclass
class SlowSink(MemorySink):
    """A MemorySink whose add_results stays in flight until ``release`` is set."""

    writing: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def add_results(
        self, results: Sequence[AssessmentResult], *, run: Run, prepared: object = None
    ) -> None:
        self.writing.set()
        await self.release.wait()
        await super().add_results(results, run=run, prepared=prepared)


@dataclass
class StaticInventory:
    """An inventory provider returning one prepared inventory."""

    inventory: Inventory = field(default_factory=small_inventory)
    loads: int = 0

    async def load(self, request: RunRequest, checks: Sequence[Check]) -> Inventory:
        self.loads += 1
        return self.inventory


@dataclass
class BlockedInventory:
    """An inventory provider that waits until ``release`` is set (for queued-state tests)."""

    entered: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    inventory: Inventory = field(default_factory=small_inventory)

    async def load(self, request: RunRequest, checks: Sequence[Check]) -> Inventory:
        self.entered.set()
        await self.release.wait()
        return self.inventory


MANIFESTS = RunRequest(source=Source.MANIFESTS, manifests=ManifestTree("/unused"))
