"""API errors, latency and expired watches: retried with backoff, no lost or duplicate work."""

from __future__ import annotations

import asyncio
from collections import Counter

from assay.server.workflow.audit import AuditEventType

from .harness import EXEC_NS, Harness


def _audit_is_unique(harness: Harness) -> None:
    keys = Counter(e.key for e in harness.audit.events)
    assert all(n == 1 for n in keys.values()), keys


async def test_server_errors_everywhere_are_retried(harness: Harness) -> None:
    injections = [
        harness.api.inject(method="POST", path_regex=r"/leases$", status=500, times=2),
        harness.api.inject(method="POST", path_regex=r"/pipelineruns$", status=503, times=2),
        harness.api.inject(method="PUT", path_regex=r"/status$", status=500, times=2),
        harness.api.inject(
            method="GET", path_regex=r"/workflowexecutions/wfe-\d$", status=500, times=3
        ),
        harness.api.inject(method="GET", path_regex=r"/taskruns$", status=500, times=2),
        harness.api.inject(method="DELETE", path_regex=r"/leases/", status=500, times=1),
    ]
    controller = await harness.controller()
    names = ["wfe-1", "wfe-2", "wfe-3"]
    for i, name in enumerate(names):
        await harness.create(name, target=f"prod/deployment/app-{i}")
    await harness.wait_for(
        lambda: all(harness.phase(n) == "Running" for n in names), what="all Running"
    )
    for pr in harness.pipelineruns():
        await harness.sim.succeed(EXEC_NS, pr["metadata"]["name"])
    await harness.wait_for(
        lambda: all(harness.phase(n) == "Completed" for n in names), what="all Completed"
    )
    await harness.wait_for(lambda: not harness.leases(), what="locks released")
    await harness.wait_idle(controller)
    assert all(i.hits == i.times for i in injections), [(i.path_regex, i.hits) for i in injections]
    assert len(harness.pipelineruns()) == 3
    assert harness.metric("workflowexecution_pipelinerun_creation_total") == 3
    assert harness.metric("workflowexecution_reconcile_errors_total") >= 5
    assert harness.audit.count(AuditEventType.COMPLETED) == 3
    assert harness.audit.count(AuditEventType.LOCK_RELEASED) == 3
    _audit_is_unique(harness)


async def test_slow_api_still_one_execution_per_target(harness: Harness) -> None:
    harness.api.set_latency(0.02)
    await harness.controller(workers=6)
    names = [f"wfe-{i}" for i in range(6)]
    await asyncio.gather(*(harness.create(n) for n in names))
    await harness.wait_for(
        lambda: all(harness.phase(n) in ("Running", "Skipped") for n in names),
        within=10,
        what="all admitted or skipped",
    )
    assert sorted(harness.phase(n) or "" for n in names) == ["Running"] + ["Skipped"] * 5
    assert len(harness.pipelineruns()) == 1


async def test_expired_watch_relists_and_loses_nothing(harness: Harness) -> None:
    controller = await harness.controller()
    await harness.create("wfe-1", target="prod/deployment/a")
    await harness.wait_phase("wfe-1", "Running")
    wfe_relists = controller.executions.relists
    pr_relists = controller.pipelineruns.relists

    # The watches drop and cannot reconnect for a while; meanwhile things happen and the
    # history is compacted, so resuming from the last resourceVersion gets 410 Expired.
    blind = [
        harness.api.inject(
            method="GET", path_regex=r"/v1alpha1/workflowexecutions$", status=500, times=None
        ),
        harness.api.inject(
            method="GET", path_regex=rf"/namespaces/{EXEC_NS}/pipelineruns$", status=500, times=None
        ),
    ]
    harness.api.hub.close_all()
    await harness.create("wfe-2", target="prod/deployment/b")
    await harness.sim.succeed(EXEC_NS, harness.pr_of("wfe-1")["metadata"]["name"])
    await harness.wait_for(lambda: all(i.hits >= 1 for i in blind), what="failed reconnects")
    harness.api.compact()
    harness.api.clear_injections()

    await harness.wait_phase("wfe-2", "Running", within=10)
    await harness.wait_phase("wfe-1", "Completed", within=10)
    assert controller.executions.relists > wfe_relists
    assert controller.pipelineruns.relists > pr_relists
    assert len(harness.pipelineruns()) == 2
    _audit_is_unique(harness)


async def test_http_410_on_watch_is_a_relist_not_an_error_loop(harness: Harness) -> None:
    controller = await harness.controller()
    gone = harness.api.inject(
        method="GET", path_regex=r"/workflowexecutions$", status=410, reason="Expired", times=1
    )
    harness.api.hub.close_all()  # the reconnecting watch hits the injected 410
    await harness.wait_for(lambda: gone.hits == 1, what="the 410")
    await harness.create("wfe-1")
    await harness.wait_phase("wfe-1", "Running", within=10)
    assert controller.executions.relists >= 2


async def test_list_failures_back_off_then_recover(harness: Harness) -> None:
    failing = harness.api.inject(
        method="GET", path_regex=r"/workflowexecutions$", status=500, times=3
    )
    await harness.create("wfe-1")
    controller = await harness.controller()
    await harness.wait_phase("wfe-1", "Running")
    assert failing.hits == 3
    assert controller.executions.errors == 3
