"""The controller facade the gRPC layer calls: create, get, list, watch; and the metrics."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from assay.server.core.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable
from assay.server.kube.client import KubeClient
from assay.server.kube.settings import BackoffSettings, LeaderElectionSettings
from assay.server.observability.workflow_metrics import WorkflowMetrics
from assay.server.workflow.changes import PhaseChange
from assay.server.workflow.controller import WorkflowController
from assay.server.workflow.model import Phase
from assay.server.workflow.settings import WorkflowSettings
from tests.kubeapi import KubeApiDouble
from tests.unit.workflow.fakes import InMemoryAuditSink

from .harness import EXEC_NS, NS, Harness, spec


async def test_create_validates_and_returns_the_object(harness: Harness) -> None:
    controller = await harness.controller()
    with pytest.raises(InvalidArgument) as info:
        await controller.create(NS, spec(target="nope", parameters={"bad": "x"}))
    assert {v.field for v in info.value.violations} == {
        "spec.targetResource",
        "spec.parameters.bad",
    }
    created = await controller.create(NS, spec())
    assert created["metadata"]["name"].startswith("wfe-")
    assert created["metadata"]["uid"]
    assert created["spec"]["targetResource"] == "prod/deployment/web"
    named = await controller.create(NS, spec(target="prod/deployment/api"), name="explicit")
    assert named["metadata"]["name"] == "explicit"
    with pytest.raises(NotFound):
        await controller.create("no-such-namespace", spec())


async def test_get_and_list(harness: Harness) -> None:
    controller = await harness.controller()
    await controller.create(NS, spec(target="prod/deployment/a"), name="a")
    await controller.create(
        NS, spec(target="prod/deployment/a", workflow_id="other"), name="a-other"
    )
    await controller.create("team-b", spec(target="prod/deployment/b"), name="b")
    await harness.wait_phase("a", "Running")
    await harness.wait_phase("a-other", "Skipped")
    got = await controller.get(NS, "a")
    assert got["status"]["phase"] == "Running"
    with pytest.raises(NotFound):
        await controller.get(NS, "missing")

    def names(items: list[dict[str, object]]) -> set[str]:
        return {str(i["metadata"]["name"]) for i in items}  # type: ignore[index]

    assert names(await controller.list()) == {"a", "a-other", "b"}
    assert names(await controller.list(namespace="team-b")) == {"b"}
    assert names(await controller.list(target="prod/deployment/a")) == {"a", "a-other"}
    assert names(await controller.list(workflow_id="other")) == {"a-other"}
    assert names(await controller.list(phase=Phase.SKIPPED)) == {"a-other"}
    assert names(await controller.list(phase="Skipped", namespace="team-b")) == set()


async def test_watch_streams_phase_changes(harness: Harness) -> None:
    controller = await harness.controller()
    await controller.create(NS, spec(), name="watched")
    seen: list[PhaseChange] = []

    async def consume() -> None:
        async for change in controller.watch(namespace=NS, name="watched"):
            seen.append(change)
            if change.deleted:
                return

    consumer = asyncio.create_task(consume())
    await harness.wait_phase("watched", "Running")
    await harness.sim.succeed(EXEC_NS, harness.pr_of("watched")["metadata"]["name"])
    await harness.wait_phase("watched", "Completed")
    await harness.delete("watched")
    async with asyncio.timeout(5):
        await consumer
    phases = [c.phase for c in seen if not c.deleted]
    # The first item is the state at subscription time (Pending or, if quick, Running).
    assert phases[-2:] == [Phase.RUNNING, Phase.COMPLETED]
    assert phases[0] in (Phase.PENDING, Phase.RUNNING)
    assert seen[-1].deleted and seen[-1].name == "watched"
    assert all(c.namespace == NS for c in seen)


async def test_watch_of_everything_ends_when_the_controller_stops(harness: Harness) -> None:
    controller = await harness.controller()
    await controller.create(NS, spec(target="prod/deployment/x"), name="x")
    await harness.wait_phase("x", "Running")
    await harness.wait_for(  # the stream starts from this replica's informer cache
        lambda: controller.executions.cache[f"{NS}/x"].get("status", {}).get("phase") == "Running",
        what="the cache to catch up",
    )
    stream = controller.watch()
    first = await anext(stream)
    assert (first.name, first.phase) == ("x", Phase.RUNNING)
    await controller.stop()
    with pytest.raises(StopAsyncIteration):
        async with asyncio.timeout(2):
            await anext(stream)


async def test_metrics_and_events_for_outcomes(harness: Harness) -> None:
    await harness.controller()
    await harness.create("ok", target="prod/deployment/a")
    await harness.create("bad", target="prod/deployment/b")
    await harness.wait_phase("ok", "Running")
    await harness.wait_phase("bad", "Running")
    await harness.sim.succeed(EXEC_NS, harness.pr_of("ok")["metadata"]["name"])
    await harness.sim.fail(EXEC_NS, harness.pr_of("bad")["metadata"]["name"])
    await harness.wait_phase("ok", "Completed")
    await harness.wait_phase("bad", "Failed")
    await harness.wait_for(lambda: not harness.leases(), what="locks released")
    assert harness.metric("workflowexecution_total", outcome="completed") == 1
    assert harness.metric("workflowexecution_total", outcome="failed") == 1
    assert harness.metric("workflowexecution_duration_seconds_count", outcome="completed") == 1
    assert harness.metric("workflowexecution_pipelinerun_creation_total") == 2
    assert harness.metric("workflowexecution_queue_depth") == 0
    reasons = {(e["involvedObject"]["name"], e["type"], e["reason"]) for e in harness.events()}
    assert ("ok", "Normal", "Completed") in reasons
    assert ("bad", "Warning", "TaskFailed") in reasons


def _bare_controller(kube: KubeClient) -> WorkflowController:
    return WorkflowController(
        kube=kube,
        cluster_id="test",
        settings=WorkflowSettings(
            leader_election=LeaderElectionSettings(enabled=False),
            backoff=BackoffSettings(initial_s=0.01, max_s=0.05),
        ),
        audit=InMemoryAuditSink(),
        metrics=WorkflowMetrics(CollectorRegistry()),
    )


async def test_start_fails_at_once_without_the_crd(
    kube_api: KubeApiDouble, kube: KubeClient
) -> None:
    controller = _bare_controller(kube)
    with pytest.raises(FailedPrecondition, match=r"workflowexecution\.kubernaut\.ai/v1alpha1"):
        await controller.start(sync_timeout_s=5)
    assert not [r for r in kube_api.requests if r.is_watch]  # nothing was started


async def test_start_fails_at_once_without_tekton(harness: Harness, kube: KubeClient) -> None:
    harness.api.disable_group("tekton.dev")
    with pytest.raises(FailedPrecondition, match="Tekton"):
        await _bare_controller(kube).start(sync_timeout_s=5)


async def test_start_fails_cleanly_when_the_first_lists_fail(
    harness: Harness, kube: KubeClient
) -> None:
    harness.api.inject(path_regex="workflowexecutions$", status=500, times=None)
    controller = _bare_controller(kube)
    with pytest.raises(Unavailable):
        await controller.start(sync_timeout_s=0.3)
    assert controller.executions.errors > 0
