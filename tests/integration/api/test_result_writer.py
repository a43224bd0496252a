"""A server whose results go through the writer process stores what one writing in process
stores: the same manifests give the same results, counts and summary either way."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from assay.client.api import AssayClient
from assay.server.app import AssayServer
from assay.server.storage.repository import Repository
from assay.v1 import assessment_pb2 as apb
from tests.integration.api.server_fixtures import ServerThread, server_settings
from tests.integration.api.test_result_origins import _results
from tests.integration.api.test_runs import EXAMPLES, follow
from tests.integration.api.uploads import start_manifest_run


def _writer_children() -> list[int]:
    """This process's children that run the results writer (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if ppid == os.getpid() and b"from assay.server.storage.writer import main" in command:
            found.append(int(entry.name))
    return found


def _assess(
    repository: Repository, min_rows: int, *, writer_at_start: bool = False
) -> tuple[list[tuple[Any, ...]], Any]:
    """A full run of the examples on a server with ``results_writer_min_rows=min_rows``:
    its results (without ids and times) and its summary counts."""
    settings = server_settings(results_writer_min_rows=min_rows)
    server = ServerThread(
        AssayServer(settings, repository=repository, writer_at_start=writer_at_start)
    )
    with server, AssayClient(server.target, timeout_s=30) as client:
        if writer_at_start:
            assert _writer_children(), "no writer process before the run"
        run = start_manifest_run(client, EXAMPLES)
        assert follow(client, run.run_id)[-1].run_finished.run.state == (apb.RUN_PHASE_COMPLETED)
        if min_rows:
            assert _writer_children(), "no writer process ran the run's batches"
        results = sorted(
            (
                r.check_id,
                r.status,
                r.severity,
                r.object.kind,
                r.object.namespace,
                r.object.name,
                r.container,
                r.message,
                r.exempted,
                r.origin.path,
                r.origin.line,
            )
            for r in _results(client, run.run_id)
        )
        summary = client.get_summary(apb.AssessmentQuery(run_id=run.run_id))
    assert not _writer_children(), "the writer process outlived its server"
    return results, summary.counts


def test_results_through_the_writer_process_equal_those_written_in_process(
    repository: Repository,
) -> None:
    in_process = _assess(repository, min_rows=0)
    through_writer = _assess(repository, min_rows=1)
    assert in_process[0]
    assert through_writer == in_process


def test_a_writer_started_with_the_server_stores_the_same(repository: Repository) -> None:
    # The examples' batches are all below min_rows: those that come once the early child
    # is ready go to it, the others are written in process; together the same as ever.
    in_process = _assess(repository, min_rows=0)
    assert _assess(repository, min_rows=1000, writer_at_start=True) == in_process
