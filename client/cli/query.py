"""``assay query assessments|runs ...``: read results, summaries, history and runs."""

from __future__ import annotations

from typing import Annotated

import typer

from assay.client import formatters as fmt
from assay.client.cli import common
from assay.client.formatters import Output
from assay.v1 import assessment_pb2 as apb

app = typer.Typer(help="Query stored results, summaries, history and runs.", no_args_is_help=True)
assessments = typer.Typer(help="Assessment results.", no_args_is_help=True)
runs = typer.Typer(help="Assessment runs.", no_args_is_help=True)
app.add_typer(assessments, name="assessments")
app.add_typer(runs, name="runs")

PillarOpt = Annotated[
    list[str] | None,
    typer.Option("--pillar", "-p", help="Pillar (repeatable or comma list): security, sec, ..."),
]
StatusOpt = Annotated[
    list[str] | None,
    typer.Option("--status", "-s", help="Status (repeatable or comma list): failing, passing..."),
]
SinceOpt = Annotated[
    str | None, typer.Option("--since", help="ISO 8601 time, or an age such as 30m, 24h, 7d.")
]
RunIdOpt = Annotated[str | None, typer.Option("--run-id", help="Only this run.")]
LimitOpt = Annotated[int | None, typer.Option("--limit", help="Page size, 1..1000 (50).")]
OffsetOpt = Annotated[int, typer.Option("--offset", help="Items to skip.")]
OutputOpt = Annotated[Output, typer.Option("--output", "-o", help="Output format.")]


def _query(
    *,
    pillar: list[str] | None,
    status: list[str] | None,
    since: str | None,
    run_id: str | None,
    limit: int | None,
    offset: int,
    check: str | None = None,
) -> apb.AssessmentQuery:
    query = apb.AssessmentQuery(
        run_id=run_id or "",
        pillars=common.pillars(pillar),
        statuses=common.statuses(status),
        offset=offset,
        check_id=check or "",
    )
    return common.paged(query, limit=limit, since_text=since)


@assessments.command("list")
def list_assessments(
    ctx: typer.Context,
    pillar: PillarOpt = None,
    status: StatusOpt = None,
    since: SinceOpt = None,
    run_id: RunIdOpt = None,
    check: Annotated[str | None, typer.Option("--check", help="Only this check id.")] = None,
    limit: LimitOpt = None,
    offset: OffsetOpt = 0,
    output: OutputOpt = Output.TABLE,
) -> None:
    """List results, newest first."""
    query = _query(
        pillar=pillar,
        status=status,
        since=since,
        run_id=run_id,
        limit=limit,
        offset=offset,
        check=check,
    )
    with common.connect(ctx) as client:
        page = client.list_assessments(query)
    fmt.emit(
        common.state(ctx).console,
        output,
        page,
        lambda: fmt.results_table(page.results, page.total_count),
    )


@assessments.command("get")
def get_assessment(
    ctx: typer.Context,
    result_id: Annotated[str, typer.Argument(help="Result id, e.g. asm_20260216_...")],
    output: OutputOpt = Output.TABLE,
) -> None:
    """Show one result."""
    with common.connect(ctx) as client:
        result = client.get_assessment(result_id)
    fmt.emit(common.state(ctx).console, output, result, lambda: fmt.result_table(result))


@assessments.command("summary")
def summary(
    ctx: typer.Context,
    pillar: PillarOpt = None,
    status: StatusOpt = None,
    since: SinceOpt = None,
    run_id: RunIdOpt = None,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Counts per status and pillar, and the score."""
    query = _query(pillar=pillar, status=status, since=since, run_id=run_id, limit=None, offset=0)
    with common.connect(ctx) as client:
        result = client.get_summary(query)
    fmt.emit(common.state(ctx).console, output, result, lambda: fmt.summary_table(result))


@assessments.command("history")
def history(
    ctx: typer.Context,
    cluster: Annotated[str | None, typer.Option("--cluster", help="Only this cluster id.")] = None,
    since: SinceOpt = None,
    limit: LimitOpt = None,
    offset: OffsetOpt = 0,
    output: OutputOpt = Output.TABLE,
) -> None:
    """One line per finished run, newest first."""
    request = apb.GetHistoryRequest(cluster_id=cluster or "", offset=offset)
    common.paged(request, limit=limit, since_text=since)
    with common.connect(ctx) as client:
        page = client.get_history(request)
    fmt.emit(
        common.state(ctx).console,
        output,
        page,
        lambda: fmt.history_table(page.entries, page.total_count),
    )


@runs.command("list")
def list_runs(
    ctx: typer.Context,
    state: Annotated[
        list[str] | None, typer.Option("--state", help="Run state (repeatable or comma list).")
    ] = None,
    since: SinceOpt = None,
    limit: LimitOpt = None,
    offset: OffsetOpt = 0,
    output: OutputOpt = Output.TABLE,
) -> None:
    """List runs, newest first."""
    request = apb.ListRunsRequest(states=common.run_phases(state), offset=offset)
    common.paged(request, limit=limit, since_text=since)
    with common.connect(ctx) as client:
        page = client.list_runs(request)
    fmt.emit(
        common.state(ctx).console, output, page, lambda: fmt.runs_table(page.runs, page.total_count)
    )


@runs.command("get")
def get_run(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="Run id.")],
    output: OutputOpt = Output.TABLE,
) -> None:
    """Show one run."""
    with common.connect(ctx) as client:
        run = client.get_run(run_id)
    fmt.emit(common.state(ctx).console, output, run, lambda: fmt.run_table(run))
