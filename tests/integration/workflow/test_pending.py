"""``phase: Pending`` is written on the first reconcile, for every client to see.

It is the execution's initial phase made visible, not a transition: no audit event, and
each transition out of it still has exactly one.
"""

from __future__ import annotations

import copy
from typing import Any, cast

import pytest

from assay.server.kube.errors import KubeConflict
from assay.server.workflow.audit import AuditEventType
from assay.server.workflow.model import (
    API_VERSION,
    GROUP,
    KIND,
    PLURAL,
    VERSION,
    WORKFLOW_EXECUTIONS,
)
from assay.server.workflow.status import StatusWriter, WriteOutcome
from tests.integration.kube.fixtures import kube_client

from .harness import EXEC_NS, NS, Harness, spec


def phases_written(harness: Harness, name: str) -> list[str]:
    """``status.phase`` of every status PUT of ``name`` that reached the double, in order."""
    path = f"/namespaces/{NS}/workflowexecutions/{name}/status"
    return [
        str(((r.body or {}).get("status") or {}).get("phase"))
        for r in harness.api.requests
        if r.method == "PUT" and r.path.endswith(path)
    ]


async def test_pending_is_written_first_and_read_by_any_client(harness: Harness) -> None:
    # The lock cannot be taken for now: the execution stays where its first reconcile got.
    locks = harness.api.inject(
        method="POST", path_regex=rf"/namespaces/{EXEC_NS}/leases$", status=500, times=None
    )
    await harness.controller()
    await harness.create("wfe-1")
    await harness.wait_for(lambda: locks.hits >= 1, what="a lock attempt")

    # What `kubectl get wfe` reads: the object itself, and the list.
    got = cast(
        dict[str, Any],
        await harness.user.get_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "wfe-1"),
    )
    listed = cast(
        dict[str, Any],
        await harness.user.list_namespaced_custom_object(GROUP, VERSION, NS, PLURAL),
    )
    assert got["status"] == {"phase": "Pending"}
    assert [item["status"]["phase"] for item in listed["items"]] == ["Pending"]
    assert harness.audit.of("wfe-1") == []  # not a transition: nothing to audit
    assert harness.pipelineruns() == []

    harness.api.clear_injections()
    await harness.wait_phase("wfe-1", "Running")
    await harness.wait_for(
        lambda: harness.audit.of("wfe-1") == [AuditEventType.PIPELINERUN_CREATED], what="audit"
    )
    assert phases_written(harness, "wfe-1") == ["Pending", "Running"]


async def test_a_skipped_execution_moves_from_pending_to_skipped_with_one_event(
    harness: Harness,
) -> None:
    await harness.controller()
    await harness.create("holder")
    await harness.wait_phase("holder", "Running")
    await harness.create("wfe-1")
    await harness.wait_phase("wfe-1", "Skipped")
    await harness.wait_for(
        lambda: harness.audit.of("wfe-1") == [AuditEventType.SKIPPED], what="audit"
    )
    assert phases_written(harness, "wfe-1") == ["Pending", "Skipped"]
    events = [e for e in harness.events() if e["involvedObject"]["name"] == "wfe-1"]
    assert [e["reason"] for e in events] == ["ResourceBusy"]


async def test_an_invalid_execution_moves_from_pending_to_failed_with_one_event(
    harness: Harness,
) -> None:
    # Seeded straight into the store, as if admission had not validated it.
    harness.api.seed(
        {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": "wfe-1", "namespace": NS},
            "spec": spec(target="not a target"),
        }
    )
    await harness.controller()
    failed = await harness.wait_phase("wfe-1", "Failed")
    assert failed["status"]["failureDetails"]["reason"] == "ConfigurationError"
    await harness.wait_for(lambda: harness.audit.of("wfe-1") != [], what="audit")
    assert harness.audit.of("wfe-1") == [AuditEventType.FAILED]
    assert phases_written(harness, "wfe-1") == ["Pending", "Failed"]


async def test_pending_never_overwrites_a_phase_another_writer_set(harness: Harness) -> None:
    await harness.create("wfe-1")
    async with kube_client(harness.api) as kube:
        stale = await kube.get(WORKFLOW_EXECUTIONS, NS, "wfe-1")
        moved = copy.deepcopy(stale)
        moved["status"] = {"phase": "Running"}
        await kube.replace_status(WORKFLOW_EXECUTIONS, NS, "wfe-1", moved)

        written = await StatusWriter(kube).mark_pending(stale)

    assert written.outcome is WriteOutcome.ALREADY
    assert written.obj["status"]["phase"] == "Running"
    assert harness.phase("wfe-1") == "Running"
    # The stale write met a conflict, the object was read again, and nothing more was sent.
    assert phases_written(harness, "wfe-1") == ["Running", "Pending"]


async def test_of_two_writers_of_pending_one_writes(harness: Harness) -> None:
    await harness.create("wfe-1")
    async with kube_client(harness.api) as kube:
        seen = await kube.get(WORKFLOW_EXECUTIONS, NS, "wfe-1")
        writer = StatusWriter(kube)
        first = await writer.mark_pending(seen)
        second = await writer.mark_pending(seen)  # a stale copy: 409, re-read, Pending there
        again = await writer.mark_pending(first.obj)  # current copy: nothing to send

    assert (first.outcome, second.outcome, again.outcome) == (
        WriteOutcome.APPLIED,
        WriteOutcome.ALREADY,
        WriteOutcome.ALREADY,
    )
    assert phases_written(harness, "wfe-1") == ["Pending", "Pending"]
    assert harness.phase("wfe-1") == "Pending"


async def test_a_pending_write_that_keeps_conflicting_gives_up_and_is_retried(
    harness: Harness,
) -> None:
    conflicts = harness.api.inject(
        method="PUT",
        path_regex=rf"/namespaces/{NS}/workflowexecutions/wfe-1/status$",
        status=409,
        times=8,
    )
    await harness.create("wfe-1")
    async with kube_client(harness.api) as kube:
        seen = await kube.get(WORKFLOW_EXECUTIONS, NS, "wfe-1")
        with pytest.raises(KubeConflict, match="gave up after 8 attempts"):
            await StatusWriter(kube).mark_pending(seen)
    assert conflicts.hits == 8
    assert harness.phase("wfe-1") == ""

    await harness.controller()  # its reconcile retries the write on its own
    await harness.wait_phase("wfe-1", "Running")
    assert phases_written(harness, "wfe-1")[-2:] == ["Pending", "Running"]
