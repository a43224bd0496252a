"""The runner's inventory providers: what the live one asks the cluster for, and cleanup."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from assay.server.assessment import providers as runner_module
from assay.server.assessment.providers import LiveInventory
from assay.server.assessment.requests import RunRequest
from assay.server.assessment.runner import Runner
from assay.server.checks.kit.catalogue import Catalogue
from assay.server.core.types import RunState, Source, Status
from assay.server.inventory.errors import ClusterUnavailable
from assay.server.inventory.model import Inventory
from tests.unit.assessment.fakes import (
    MemorySink,
    definition,
    fake_check,
    per_pod,
    registry,
    small_inventory,
)


class FakeClient:
    def __init__(self) -> None:
        self.closed = False

    async def close(self) -> None:
        self.closed = True


class FakeCluster:
    """Stands in for ``load_live_inventory`` and the ApiClient factory."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.clients: list[FakeClient] = []
        self.contexts: list[str] = []
        self.asked: dict[str, Any] = {}

    async def factory(self, context: str) -> FakeClient:
        self.contexts.append(context)
        self.clients.append(FakeClient())
        return self.clients[-1]

    async def load(self, api: Any, *, kinds: Any, groups: Any) -> Inventory:
        self.asked = {"api": api, "kinds": kinds, "groups": groups}
        if self.error is not None:
            raise self.error
        return small_inventory()


def live_runner(cluster: FakeCluster, monkeypatch: pytest.MonkeyPatch) -> tuple[Runner, MemorySink]:
    monkeypatch.setattr(runner_module, "load_live_inventory", cluster.load)
    sink = MemorySink()
    check = fake_check("SEC-001", per_pod(Status.PASSING))
    scaling = dataclasses.replace(definition("SUS-004"), needs=frozenset({"autoscaling/v2"}))
    other = fake_check("SUS-004", per_pod(Status.PASSING))
    other = dataclasses.replace(other, definition=scaling)
    return (
        Runner(
            catalogue=Catalogue(registry(check, other)),
            sink=sink,
            inventories={Source.LIVE: LiveInventory(cluster.factory)},
        ),
        sink,
    )


async def test_live_inventory_lists_the_checks_kinds_with_a_client_it_closes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cluster = FakeCluster()
    runner, _ = live_runner(cluster, monkeypatch)
    request = RunRequest(source=Source.LIVE, context="prod-eu")
    run = await runner.wait((await runner.start(request)).run_id)
    assert run.state is RunState.COMPLETED
    assert cluster.contexts == ["prod-eu"]
    assert cluster.asked["api"] is cluster.clients[0]
    assert cluster.asked["kinds"] == frozenset({"Pod"})
    assert cluster.asked["groups"] == frozenset({"autoscaling/v2"})
    assert cluster.clients[0].closed


async def test_unreachable_cluster_fails_the_run_and_still_closes_the_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cluster = FakeCluster(ClusterUnavailable("discovery failed: connection refused"))
    runner, sink = live_runner(cluster, monkeypatch)
    run = await runner.wait((await runner.start(RunRequest(source=Source.LIVE))).run_id)
    assert run.state is RunState.FAILED
    assert run.error == "inventory: discovery failed: connection refused"
    assert cluster.clients[0].closed
    assert sink.results == []


async def test_an_unexpected_provider_error_fails_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cluster = FakeCluster(KeyError("items"))
    runner, _ = live_runner(cluster, monkeypatch)
    run = await runner.wait((await runner.start(RunRequest(source=Source.LIVE))).run_id)
    assert run.state is RunState.FAILED
    assert run.error == "inventory: KeyError: 'items'"
