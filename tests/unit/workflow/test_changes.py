"""Phase-change fan-out for the gRPC Watch stream."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from assay.server.core.errors import Unavailable
from assay.server.workflow.changes import PhaseChange, PhaseChanges
from assay.server.workflow.model import Phase


def obj(name: str, phase: str | None, ns: str = "ns") -> dict[str, Any]:
    o: dict[str, Any] = {"metadata": {"name": name, "namespace": ns, "uid": f"uid-{name}"}}
    if phase:
        o["status"] = {"phase": phase}
    return o


async def test_snapshot_then_changes_filtered_and_deduplicated() -> None:
    hub = PhaseChanges()
    stream = hub.subscribe([obj("a", "Running"), obj("b", None)], namespace="ns", name="a")
    first = await anext(stream)
    assert (first.name, first.phase, first.previous_phase) == ("a", Phase.RUNNING, None)
    hub.publish(PhaseChange.of(obj("b", "Running"), Phase.PENDING))  # other name: filtered
    hub.publish(PhaseChange.of(obj("a", "Running"), Phase.PENDING))  # same phase: deduped
    hub.publish(PhaseChange.of(obj("a", "Completed"), Phase.RUNNING))
    hub.publish(PhaseChange.of(obj("a", "Completed"), Phase.COMPLETED, deleted=True))
    second = await anext(stream)
    assert (second.phase, second.previous_phase) == (Phase.COMPLETED, Phase.RUNNING)
    third = await anext(stream)
    assert third.deleted
    hub.close()
    with pytest.raises(StopAsyncIteration):
        await anext(stream)


async def test_slow_subscriber_is_ended_not_waited_for() -> None:
    hub = PhaseChanges(buffer=2)
    stream = hub.subscribe([])
    waiter = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)
    for i in range(5):
        hub.publish(PhaseChange.of(obj(f"x{i}", "Running"), None))
    assert (await waiter).name == "x0"
    with pytest.raises(Unavailable):
        await anext(stream)
