"""The runner's inventory providers: what the live one asks the cluster for, and cleanup.

The live provider talks HTTP to the Kubernetes API test double through the server's own
client; the factory records the contexts it was asked for and the clients it made.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from kubernetes.aio.client import ApiClient, Configuration

from assay.server.assessment.providers import LiveInventory
from assay.server.assessment.requests import RunRequest
from assay.server.assessment.runner import Runner
from assay.server.checks.kit import Check
from assay.server.checks.kit.catalogue import Catalogue
from assay.server.core.types import RunState, Source, Status
from assay.server.inventory.model import Inventory
from assay.server.kube.client import KubeClient
from assay.server.kube.settings import KubeSettings
from tests.kubeapi import KubeApiDouble
from tests.unit.assessment.fakes import MemorySink, definition, fake_check, per_pod, registry


class RecordingFactory:
    """Makes clients of one API server URL and remembers what it was asked for."""

    def __init__(self, configuration: Configuration) -> None:
        self.configuration = configuration
        self.contexts: list[str] = []
        self.clients: list[KubeClient] = []

    async def __call__(self, context: str) -> KubeClient:
        self.contexts.append(context)
        client = KubeClient(ApiClient(self.configuration), settings=KubeSettings(page_size=2))
        self.clients.append(client)
        return client


def closed(client: KubeClient) -> bool:
    session = client._api.rest_client.pool_manager  # the aiohttp session under the client
    return bool(session is None or session.closed)


def live_runner(factory: RecordingFactory) -> tuple[Runner, MemorySink]:
    sink = MemorySink()
    pods = fake_check("SEC-001", per_pod(Status.PASSING))
    scaling = dataclasses.replace(definition("SUS-004"), needs=frozenset({"autoscaling/v2"}))
    other = dataclasses.replace(fake_check("SUS-004", per_pod(Status.PASSING)), definition=scaling)
    runner = Runner(
        catalogue=Catalogue(registry(pods, other)),
        sink=sink,
        inventories={Source.LIVE: LiveInventory(factory)},
    )
    return runner, sink


def pod(name: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {"containers": [{"name": "app", "image": "shop/app:1"}]},
    }


async def test_live_inventory_lists_the_checks_kinds_with_a_client_it_closes(
    kube_api: KubeApiDouble,
) -> None:
    kube_api.seed([pod(f"p{i}") for i in range(5)])
    factory = RecordingFactory(kube_api.aio_configuration())
    runner, sink = live_runner(factory)
    request = RunRequest(source=Source.LIVE, context="prod-eu")
    run = await runner.wait((await runner.start(request)).run_id)
    assert run.state is RunState.COMPLETED, run.error
    assert factory.contexts == ["prod-eu"]
    listed = {r.path for r in kube_api.requests if r.method == "GET" and "pods" in r.path}
    assert listed == {"/api/v1/pods"}  # the one kind the checks read, every page of it
    assert {r.object.name for r in sink.results if r.object} == {f"p{i}" for i in range(5)}
    assert closed(factory.clients[0])


async def test_unreachable_cluster_fails_the_run_and_still_closes_the_client() -> None:
    factory = RecordingFactory(Configuration(host="http://127.0.0.1:1"))
    runner, sink = live_runner(factory)
    run = await runner.wait((await runner.start(RunRequest(source=Source.LIVE))).run_id)
    assert run.state is RunState.FAILED
    assert run.error.startswith("inventory: discovery failed")
    assert closed(factory.clients[0])
    assert sink.results == []


class BrokenProvider:
    async def load(self, request: RunRequest, checks: Sequence[Check]) -> Inventory:
        raise KeyError("items")


async def test_an_unexpected_provider_error_fails_the_run() -> None:
    runner = Runner(
        catalogue=Catalogue(registry(fake_check("SEC-001", per_pod(Status.PASSING)))),
        sink=MemorySink(),
        inventories={Source.LIVE: BrokenProvider()},
    )
    run = await runner.wait((await runner.start(RunRequest(source=Source.LIVE))).run_id)
    assert run.state is RunState.FAILED
    assert run.error == "inventory: KeyError: 'items'"
