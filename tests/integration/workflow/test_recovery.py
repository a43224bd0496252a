"""The controller across an API server outage: its watches come back once the server
answers again, executions created during and after the outage run, and an execution that
had no news meanwhile is reconciled at once (what failed during the outage is redone
without waiting for its grown retry delay)."""

from __future__ import annotations

from collections import Counter

import pytest

from assay.server.workflow.controller import WorkflowController
from assay.server.workflow.model import API_VERSION, KIND

from .harness import EXEC_NS, NS, Harness, spec


def _reads_of(harness: Harness, name: str, since: int, until: int | None = None) -> int:
    path = f"/namespaces/{NS}/workflowexecutions/{name}"
    return sum(
        1 for r in harness.api.requests[since:until] if r.method == "GET" and r.path.endswith(path)
    )


async def _begin(harness: Harness, kind: str) -> None:
    if kind == "refused":
        await harness.api.stop()  # watches end, connections are refused
    else:
        harness.api.inject(status=503, times=None, reason="ServiceUnavailable")
        harness.api.hub.close_all()


async def _end(harness: Harness, kind: str) -> None:
    if kind == "refused":
        await harness.api.start()
    else:
        harness.api.clear_injections()


def _waited_out(controller: WorkflowController) -> bool:
    """Both informers failed at least twice: each has probed the server and found it down."""
    return controller.executions.errors >= 2 and controller.pipelineruns.errors >= 2


@pytest.mark.parametrize("kind", ["503", "refused"])
async def test_work_resumes_after_an_outage_and_nothing_is_lost(
    harness: Harness, kind: str
) -> None:
    controller = await harness.controller()
    await harness.create("before", target="prod/deployment/a")
    await harness.wait_phase("before", "Running")
    await harness.wait_idle(controller)

    start = len(harness.api.requests)
    await _begin(harness, kind)
    await harness.wait_for(lambda: _waited_out(controller), what="the informers to fail")
    # Stored meanwhile by a way that does not go through the unavailable server.
    harness.api.seed(
        {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": "during", "namespace": NS},
            "spec": spec(target="prod/deployment/b"),
        }
    )
    back = len(harness.api.requests)
    await _end(harness, kind)

    await harness.wait_phase("during", "Running", within=10)
    await harness.create("after", target="prod/deployment/c")
    await harness.wait_phase("after", "Running")
    assert controller.executions.retry.recoveries >= 1
    assert controller.pipelineruns.retry.recoveries >= 1
    # "before" had no news during the outage and was not reconciled then; the recovery
    # queued it again at once.
    await harness.wait_for(lambda: _reads_of(harness, "before", back) >= 1, what="a reconcile")
    assert _reads_of(harness, "before", start, back) == 0

    for name in ("before", "during", "after"):
        await harness.sim.succeed(EXEC_NS, harness.pr_of(name)["metadata"]["name"])
    for name in ("before", "during", "after"):
        await harness.wait_phase(name, "Completed")
    await harness.wait_for(lambda: not harness.leases(), what="locks released")
    assert len(harness.pipelineruns()) == 3
    keys = Counter(e.key for e in harness.audit.events)
    assert all(n == 1 for n in keys.values()), keys
