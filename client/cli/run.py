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

from assay.client import formatters as fmt
from assay.client.api import AssayClient
from assay.client.cli import common, outcome
from assay.client.cli.outcome import SHOW_HELP, SeverityChoice, ShowChoice
from assay.client.formatters import Output
from assay.client.manifests import ManifestInputError, manifest_inputs, read_chunks
from assay.client.report.grouped import grouped_findings
from assay.v1 import assessment_pb2 as apb
from assay.v1 import common_pb2 as cpb

runs_app = typer.Typer(help="Manage assessment runs.", no_args_is_help=True)
checks_app = typer.Typer(help="The check catalogue.", no_args_is_help=True)

FAIL_ON_HELP = (
    "Exit 2 when a failing result at or above this severity exists, 3 when the run was "
    "partial (a check errored or timed out)."
)
ShowOpt = Annotated[ShowChoice, typer.Option("--show", help=SHOW_HELP)]


class SourceChoice(enum.StrEnum):
    LIVE = "live"
    MANIFESTS = "manifests"


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
    fail_on: Annotated[SeverityChoice | None, typer.Option("--fail-on", help=FAIL_ON_HELP)] = None,
    show: ShowOpt = ShowChoice.TOP,
    output: common.OutputOpt = Output.TABLE,
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
            fmt.emit(st.console, output, started, fmt.run_table)
            return
        _follow_and_report(ctx, client, started, output=output, fail_on=fail_on, show=show)


def _follow_and_report(
    ctx: typer.Context,
    client: AssayClient,
    run: apb.RunState,
    *,
    output: Output,
    fail_on: SeverityChoice | None,
    show: ShowChoice = ShowChoice.TOP,
) -> None:
    """Follow ``run`` to its end, print the outcome (tables end with the failing findings
    grouped by check), and exit as a CI gate expects (see :mod:`outcome`)."""
    st = common.state(ctx)
    tables = output in (Output.TABLE, Output.WIDE)
    finished = outcome.follow(st, client, run, progress=tables)
    if tables:
        failing = outcome.run_results(client, run.run_id, [cpb.STATUS_FAILING])
        findings = grouped_findings(failing, show_all=show is ShowChoice.ALL)
        fmt.emit(
            st.console,
            output,
            finished,
            lambda f, wide: Group(fmt.finished_table(f, wide), findings),
        )
    else:
        fmt.emit(st.console, output, finished, fmt.finished_table)
    outcome.gate(
        st, finished.run, fail_on=fail_on, failing=outcome.failing_severities(finished.summary)
    )


@runs_app.command("watch")
def watch(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="Run id.")],
    fail_on: Annotated[SeverityChoice | None, typer.Option("--fail-on", help=FAIL_ON_HELP)] = None,
    show: ShowOpt = ShowChoice.TOP,
    output: common.OutputOpt = Output.TABLE,
) -> None:
    """Follow a run (started here or elsewhere) to its end, as assay run does."""
    with common.connect(ctx) as client:
        run = client.get_run(run_id)
        _follow_and_report(ctx, client, run, output=output, fail_on=fail_on, show=show)


@runs_app.command("cancel")
def cancel(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="Run id.")],
    output: common.OutputOpt = Output.TABLE,
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
                raise typer.Exit(outcome.EXIT_DETACHED)
            run = client.get_run(run_id)
    fmt.emit(st.console, output, run, fmt.run_table)
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
    output: common.OutputOpt = Output.TABLE,
) -> None:
    """List the checks the server knows."""
    with common.connect(ctx) as client:
        checks = client.list_checks(common.pillars(pillar))
    fmt.emit(common.state(ctx).console, output, checks, fmt.checks_table)
