"""Every RPC of every Assay service is classified, so a new one cannot go unguarded."""

from __future__ import annotations

from assay.server.api.access import METHOD_ACCESS, served_methods
from assay.server.auth.access import Access


def test_every_method_of_every_service_is_a_read_or_a_write() -> None:
    assert set(served_methods()) == set(METHOD_ACCESS)


def test_the_writes_are_the_calls_that_start_stop_or_create() -> None:
    writes = {m.rsplit("/", 1)[1] for m, a in METHOD_ACCESS.items() if a is Access.WRITE}
    assert writes == {"StartRun", "StartManifestRun", "CancelRun", "Create"}
