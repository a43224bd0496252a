"""``assay run``, ``assay runs cancel`` and ``assay checks list``.

``assay run`` starts a run, follows it through the WatchRun stream with a progress bar, and
prints the summary. Ctrl-C detaches: the run goes on on the server. With ``--path`` the
manifests are read here (files, directories, ``-`` for stdin) and uploaded with the run;
the server never reads a path the client names.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Iterable
from typing import Annotated

import typer
from rich.console import Group
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from assay.client import formatters as fmt
from assay.client.api import AssayClient
from assay.client.cli import common
from assay.client.formatters import Output
from assay.client.manifests import ManifestInputError, manifest_inputs, read_chunks
from assay.v1 import assessment_pb2 as apb

runs_app = typer.Typer(help="Manage assessment runs.", no_args_is_help=True)
checks_app = typer.Typer(help="The check catalogue.", no_args_is_help=True)

EXIT_FINDINGS = 2
EXIT_DETACHED = 130


class SourceChoice(enum.StrEnum):
    LIVE = "live"
    MANIFESTS = "manifests"


class SeverityChoice(enum.StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


_FAILED_STATES = (apb.RUN_PHASE_FAILED, apb.RUN_PHASE_CANCELLED)
_ENDED_STATES = (
    apb.RUN_PHASE_COMPLETED,
    apb.RUN_PHASE_PARTIAL,
    apb.RUN_PHASE_FAILED,
    apb.RUN_PHASE_CANCELLED,
)


def run(
    ctx: typer.Context,
    pillar: Annotated[
        list[str] | None,
        typer.Option("--pillar", "-p", help="Only these pillars (repeatable or comma list)."),
    ] = None,
    check: Annotated[
        str | None, typer.Option("--check", help="Run one check, e.g. SEC-001.")
    ] = None,
    source: Annotated[
        SourceChoice, typer.Option("--source", help="Assess the live cluster or manifest files.")
    ] = SourceChoice.LIVE,
    path: Annotated[
        list[str] | None,
        typer.Option(
            "--path",
            "-f",
            help="Manifest file, directory (read recursively) or - for stdin; repeatable. "
            "The files are uploaded with the run.",
        ),
    ] = None,
    context: Annotated[
        str | None, typer.Option("--context", help="kubeconfig context (with --source live).")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Run timeout in seconds (server default 600).")
    ] = None,
    check_timeout: Annotated[
        float | None, typer.Option("--check-timeout", help="Per-check timeout in seconds (30).")
    ] = None,
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="Start the run and print its id; do not follow it.")
    ] = False,
    fail_on: Annotated[
        SeverityChoice | None,
        typer.Option(
            "--fail-on", help="Exit 2 when a failing result at or above this severity exists."
        ),
    ] = None,
    output: Annotated[Output, typer.Option("--output", "-o")] = Output.TABLE,
) -> None:
    """Start an assessment run and follow its progress."""
    if check and pillar:
        raise typer.BadParameter("--check and --pillar exclude each other")
    if source is SourceChoice.MANIFESTS and not path:
        raise typer.BadParameter("--source manifests needs --path")
    if path and context:
        raise typer.BadParameter("--context assesses a cluster, --path manifests: pick one")
    uploads: list[tuple[str, Iterable[bytes]]] = []
    if path:
        try:
            inputs = manifest_inputs(path)
        except ManifestInputError as error:
            raise typer.BadParameter(str(error)) from None
        stdin = sys.stdin.buffer
        uploads = [(i.name, read_chunks(i, stdin)) for i in inputs]
    request = apb.StartRunRequest(
        pillars=common.pillars(pillar),
        check_id=check or "",
        context=context or "",
    )
    if timeout is not None:
        request.run_timeout_seconds = timeout
    if check_timeout is not None:
        request.check_timeout_seconds = check_timeout
    st = common.state(ctx)
    with common.connect(ctx) as client:
        if uploads:
            started = client.start_manifest_run(request, uploads)
        else:
            started = client.start_run(request)
        if no_wait:
            fmt.emit(st.console, output, started, lambda: fmt.run_table(started))
            return
        _follow_and_report(ctx, client, started, output=output, fail_on=fail_on)


def _follow_and_report(
    ctx: typer.Context,
    client: AssayClient,
    run: apb.RunState,
    *,
    output: Output,
    fail_on: SeverityChoice | None,
) -> None:
    """Follow ``run`` to its end, print the outcome, and exit as a CI gate expects."""
    st = common.state(ctx)
    with common.interruptible() as interrupt:
        stream = interrupt.follow(client.watch_run(run.run_id))
        finished = _follow(stream, run, quiet=output is not Output.TABLE)
    if interrupt.hit.is_set():
        st.errors.print(
            f"Detached from run {run.run_id}; it goes on on the server (follow it again "
            f"with: assay runs watch {run.run_id}; stop it with: assay runs cancel "
            f"{run.run_id}).",
            markup=False,
        )
        raise typer.Exit(EXIT_DETACHED)
    if finished is None:
        st.errors.print(
            f"the server ended the progress of run {run.run_id} before the run finished "
            f"(it may be shutting down); follow it with: assay runs watch {run.run_id}",
            markup=False,
        )
        raise typer.Exit(1)
    _report(st, output, finished.run, finished.summary)
    if finished.run.state in _FAILED_STATES:
        raise typer.Exit(1)
    if fail_on is not None and _has_failures_at(finished.summary, common.SEVERITIES[fail_on.value]):
        st.errors.print(f"failing results at or above severity {fail_on.value}")
        raise typer.Exit(EXIT_FINDINGS)


def _follow(
    events: Iterable[apb.RunEvent], run: apb.RunState, *, quiet: bool
) -> apb.RunFinished | None:
    """Render progress from WatchRun until the run finishes; the RunFinished event if seen."""
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, disable=quiet, transient=True) as progress:
        task = progress.add_task(f"run {run.run_id}", total=run.check_count or None)
        for event in events:
            kind = event.WhichOneof("event")
            if kind == "state_changed" and event.state_changed.total_checks:
                progress.update(task, total=event.state_changed.total_checks)
            elif kind == "check_started":
                progress.update(task, description=f"{event.check_started.check_id}")
            elif kind == "check_finished":
                finished = event.check_finished
                progress.update(
                    task, completed=finished.completed_checks, total=finished.total_checks
                )
            elif kind == "run_finished":
                return event.run_finished
    return None


def _report(st: common.CliState, output: Output, run: apb.RunState, summary: apb.Summary) -> None:
    fmt.emit(
        st.console,
        output,
        apb.RunFinished(run=run, summary=summary),
        lambda: Group(fmt.run_table(run), fmt.summary_table(summary)),
    )


def _has_failures_at(summary: apb.Summary, threshold: int) -> bool:
    return any(s.severity >= threshold and s.count > 0 for s in summary.by_severity)


@runs_app.command("watch")
def watch(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="Run id.")],
    fail_on: Annotated[
        SeverityChoice | None,
        typer.Option(
            "--fail-on", help="Exit 2 when a failing result at or above this severity exists."
        ),
    ] = None,
    output: Annotated[Output, typer.Option("--output", "-o")] = Output.TABLE,
) -> None:
    """Follow a run (started here or elsewhere) to its end, as assay run does."""
    with common.connect(ctx) as client:
        run = client.get_run(run_id)
        _follow_and_report(ctx, client, run, output=output, fail_on=fail_on)


@runs_app.command("cancel")
def cancel(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="Run id.")],
    output: Annotated[Output, typer.Option("--output", "-o")] = Output.TABLE,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait/--no-wait",
            help="Wait until the run has ended (the replica executing it may be another one, "
            "which acts on the request at its next heartbeat).",
        ),
    ] = True,
) -> None:
    """Cancel a queued or running run; exit 0 once it is cancelled, 1 if it ended otherwise."""
    st = common.state(ctx)
    with common.connect(ctx) as client:
        run = client.cancel_run(run_id)
        if wait and run.state not in _ENDED_STATES:
            st.errors.print(
                f"cancel of run {run_id} requested from the replica executing it; waiting",
                markup=False,
            )
            with common.interruptible() as interrupt:
                for event in interrupt.follow(client.watch_run(run_id)):
                    if event.WhichOneof("event") == "run_finished":
                        break
            if interrupt.hit.is_set():
                st.errors.print(
                    f"Stopped waiting; the cancel of run {run_id} stays requested (follow "
                    f"it with: assay runs watch {run_id}).",
                    markup=False,
                )
                raise typer.Exit(EXIT_DETACHED)
            run = client.get_run(run_id)
    fmt.emit(st.console, output, run, lambda: fmt.run_table(run))
    if wait and run.state != apb.RUN_PHASE_CANCELLED:
        if run.state in _ENDED_STATES:
            detail = f": {run.error}" if run.error else ""
            raise common.fail(
                ctx, f"run {run_id} ended {fmt.enum_name(apb.RunPhase, run.state)}{detail}"
            )
        raise common.fail(
            ctx, f"run {run_id} has not ended yet; follow it: assay runs watch {run_id}"
        )


@checks_app.command("list")
def list_checks(
    ctx: typer.Context,
    pillar: Annotated[
        list[str] | None, typer.Option("--pillar", "-p", help="Only these pillars.")
    ] = None,
    output: Annotated[Output, typer.Option("--output", "-o")] = Output.TABLE,
) -> None:
    """List the checks the server knows."""
    with common.connect(ctx) as client:
        checks = client.list_checks(common.pillars(pillar))
    fmt.emit(common.state(ctx).console, output, checks, lambda: fmt.checks_table(checks))
