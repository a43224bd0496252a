"""Following a run to its end and turning the outcome into a report and an exit status:
the code ``assay run``, ``assay runs watch`` and ``assay scan`` share.

Exit statuses, as a CI gate reads them (``--fail-on``; ``assay scan`` always gates):
0 passed; 1 the run failed or was cancelled, or usage and input errors; 2 a failing result
at or above the threshold; 3 the run was partial (a check errored or timed out), so the
gate cannot pass on what the broken check did not assess; 130 detached by Ctrl-C. Findings
(2) win over a partial run (3): they are certain, and fixing them is the next step either way.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from assay.client import formatters as fmt
from assay.client.api import AssayClient
from assay.client.cli import common
from assay.v1 import assessment_pb2 as apb
from assay.v1 import common_pb2 as cpb

EXIT_FAILED = 1
EXIT_FINDINGS = 2
EXIT_PARTIAL = 3
EXIT_DETACHED = 130

_FAILED_STATES = (apb.RUN_PHASE_FAILED, apb.RUN_PHASE_CANCELLED)
PAGE_SIZE = 1000
"""The server's largest page of results."""


class SeverityChoice(enum.StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def number(self) -> int:
        return common.SEVERITIES[self.value]


class ShowChoice(enum.StrEnum):
    TOP = "top"
    ALL = "all"


SHOW_HELP = "Failing findings listed per check: the top few (top) or every one (all)."


def follow(
    st: common.CliState,
    client: AssayClient,
    run: apb.RunState,
    *,
    progress: bool,
    embedded: bool = False,
) -> apb.RunFinished:
    """Follow ``run`` through WatchRun to its end, a progress bar on stderr; exits 130 on
    Ctrl-C (the run goes on, unless the server is ``embedded`` in this process), 1 when the
    stream ends before the run does."""
    with common.interruptible() as interrupt:
        stream = interrupt.follow(client.watch_run(run.run_id))
        finished = _progress(stream, run, st, quiet=not progress)
    if interrupt.hit.is_set() and embedded:
        st.errors.print("interrupted: the scan stopped", markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_DETACHED)
    if interrupt.hit.is_set():
        st.errors.print(
            f"Detached from run {run.run_id}; it goes on on the server (follow it again "
            f"with: assay runs watch {run.run_id}; stop it with: assay runs cancel "
            f"{run.run_id}).",
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_DETACHED)
    if finished is None:
        st.errors.print(
            f"the server ended the progress of run {run.run_id} before the run finished "
            f"(it may be shutting down); follow it with: assay runs watch {run.run_id}",
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_FAILED)
    return finished


def _progress(
    events: Iterable[apb.RunEvent], run: apb.RunState, st: common.CliState, *, quiet: bool
) -> apb.RunFinished | None:
    columns = (
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=st.errors, disable=quiet, transient=True) as bar:
        task = bar.add_task(f"run {run.run_id}", total=run.check_count or None)
        for event in events:
            kind = event.WhichOneof("event")
            if kind == "state_changed" and event.state_changed.total_checks:
                bar.update(task, total=event.state_changed.total_checks)
            elif kind == "check_started":
                bar.update(task, description=fmt.printable(event.check_started.check_id))
            elif kind == "check_finished":
                done = event.check_finished
                bar.update(task, completed=done.completed_checks, total=done.total_checks)
            elif kind == "run_finished":
                return event.run_finished
    return None


def run_results(
    client: AssayClient, run_id: str, statuses: Sequence[cpb.Status.ValueType] = ()
) -> list[apb.AssessmentResult]:
    """The results of ``run_id`` that have one of ``statuses`` (all when empty), every page."""
    request = apb.ListAssessmentsRequest(
        query=apb.AssessmentQuery(run_id=run_id, statuses=statuses), page_size=PAGE_SIZE
    )
    return list(common.pages(request, client.list_assessments, "results", follow=True).results)


def failing_severities(summary: apb.Summary) -> list[int]:
    """The severities that have failing results in ``summary``."""
    return [s.severity for s in summary.by_severity if s.count > 0]


def gate(
    st: common.CliState,
    run: apb.RunState,
    *,
    fail_on: SeverityChoice | None,
    failing: Iterable[int],
    what: str = "failing results",
) -> None:
    """Exit as the module docstring says; return when the gate passes. ``failing`` are the
    severities of the failing results that count (a baseline may have removed some)."""
    if run.state in _FAILED_STATES:
        raise typer.Exit(EXIT_FAILED)
    if fail_on is None:
        return
    if any(severity >= fail_on.number for severity in failing):
        st.errors.print(
            f"{what} at or above severity {fail_on.value}", markup=False, soft_wrap=True
        )
        raise typer.Exit(EXIT_FINDINGS)
    if run.state == apb.RUN_PHASE_PARTIAL:
        troubled = run.counts.error + run.counts.timeout
        st.errors.print(
            f"the run was partial: {troubled} check result(s) errored or timed out, so "
            "the gate cannot pass",
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_PARTIAL)
