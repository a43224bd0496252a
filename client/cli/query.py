"""``assay query assessments|runs ...``: read results, summaries, history and runs.

Listings come a page at a time (``--limit``, 50 by default); the table's caption and the
json/yaml ``next_page_token`` give the token that ``--page-token`` continues from, and
``--all`` follows every page. Result queries read the latest finished run of the cluster
unless ``--run-id`` or ``--all-runs`` says otherwise.
"""

from __future__ import annotations

from typing import Annotated

import typer

from assay.client import formatters as fmt
from assay.client.cli import common, diff
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
RunIdOpt = Annotated[
    str | None, typer.Option("--run-id", help="Only this run (default: the latest finished run).")
]
AllRunsOpt = Annotated[
    bool, typer.Option("--all-runs", help="Every run's results, not only the latest run's.")
]
ClusterOpt = Annotated[
    str | None,
    typer.Option("--cluster", help="The cluster whose latest run to read (default: the server's)."),
]
LimitOpt = Annotated[int | None, typer.Option("--limit", help="Page size, 1..1000 (50).")]
PageTokenOpt = Annotated[
    str | None,
    typer.Option("--page-token", help="Continue after a page: its next page token, same filters."),
]
AllPagesOpt = Annotated[bool, typer.Option("--all", help="Fetch every page, not only one.")]
TotalOpt = Annotated[
    bool, typer.Option("--total", help="Count every match (costs a scan with --all-runs/--since).")
]
OutputOpt = common.OutputOpt


def _query(
    *,
    pillar: list[str] | None,
    status: list[str] | None,
    since: str | None,
    run_id: str | None,
    all_runs: bool,
    cluster: str | None,
    check: str | None = None,
) -> apb.AssessmentQuery:
    if run_id and all_runs:
        raise typer.BadParameter("--run-id and --all-runs exclude each other")
    query = apb.AssessmentQuery(
        run_id=run_id or "",
        pillars=common.pillars(pillar),
        statuses=common.statuses(status),
        check_id=check or "",
        all_runs=all_runs,
        cluster_id=cluster or "",
    )
    ts = common.since(since)
    if ts is not None:
        query.since.CopyFrom(ts)
    return query


@assessments.command("list")
def list_assessments(
    ctx: typer.Context,
    pillar: PillarOpt = None,
    status: StatusOpt = None,
    since: SinceOpt = None,
    run_id: RunIdOpt = None,
    all_runs: AllRunsOpt = False,
    cluster: ClusterOpt = None,
    check: Annotated[str | None, typer.Option("--check", help="Only this check id.")] = None,
    limit: LimitOpt = None,
    page_token: PageTokenOpt = None,
    all_pages: AllPagesOpt = False,
    total: TotalOpt = False,
    output: OutputOpt = Output.TABLE,
) -> None:
    """List results, newest first (run by run, then by time)."""
    query = _query(
        pillar=pillar,
        status=status,
        since=since,
        run_id=run_id,
        all_runs=all_runs,
        cluster=cluster,
        check=check,
    )
    request = apb.ListAssessmentsRequest(query=query)
    common.token_paged(request, limit=limit, page_token=page_token, total=total)
    with common.connect(ctx) as client:
        page = common.pages(request, client.list_assessments, "results", follow=all_pages)
    fmt.emit(common.state(ctx).console, output, page, fmt.results_table)


assessments.command("diff")(diff.diff)


@assessments.command("get")
def get_assessment(
    ctx: typer.Context,
    result_id: Annotated[str, typer.Argument(help="Result id, e.g. asm_20260216_...")],
    output: OutputOpt = Output.TABLE,
) -> None:
    """Show one result."""
    with common.connect(ctx) as client:
        result = client.get_assessment(result_id)
    fmt.emit(common.state(ctx).console, output, result, fmt.result_table)


@assessments.command("summary")
def summary(
    ctx: typer.Context,
    pillar: PillarOpt = None,
    status: StatusOpt = None,
    since: SinceOpt = None,
    run_id: RunIdOpt = None,
    all_runs: AllRunsOpt = False,
    cluster: ClusterOpt = None,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Counts per status and pillar, and the score."""
    query = _query(
        pillar=pillar,
        status=status,
        since=since,
        run_id=run_id,
        all_runs=all_runs,
        cluster=cluster,
    )
    with common.connect(ctx) as client:
        result = client.get_summary(query)
    fmt.emit(common.state(ctx).console, output, result, fmt.summary_table)


@assessments.command("history")
def history(
    ctx: typer.Context,
    cluster: Annotated[str | None, typer.Option("--cluster", help="Only this cluster id.")] = None,
    since: SinceOpt = None,
    limit: LimitOpt = None,
    page_token: PageTokenOpt = None,
    all_pages: AllPagesOpt = False,
    total: TotalOpt = False,
    output: OutputOpt = Output.TABLE,
) -> None:
    """One line per finished run, newest first."""
    request = apb.GetHistoryRequest(cluster_id=cluster or "")
    common.token_paged(request, limit=limit, page_token=page_token, total=total, since_text=since)
    with common.connect(ctx) as client:
        page = common.pages(request, client.get_history, "entries", follow=all_pages)
    fmt.emit(common.state(ctx).console, output, page, fmt.history_table)


@runs.command("list")
def list_runs(
    ctx: typer.Context,
    state: Annotated[
        list[str] | None, typer.Option("--state", help="Run state (repeatable or comma list).")
    ] = None,
    since: SinceOpt = None,
    limit: LimitOpt = None,
    page_token: PageTokenOpt = None,
    all_pages: AllPagesOpt = False,
    total: TotalOpt = False,
    output: OutputOpt = Output.TABLE,
) -> None:
    """List runs, newest first."""
    request = apb.ListRunsRequest(states=common.run_phases(state))
    common.token_paged(request, limit=limit, page_token=page_token, total=total, since_text=since)
    with common.connect(ctx) as client:
        page = common.pages(request, client.list_runs, "runs", follow=all_pages)
    fmt.emit(common.state(ctx).console, output, page, fmt.runs_table)


@runs.command("get")
def get_run(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="Run id.")],
    output: OutputOpt = Output.TABLE,
) -> None:
    """Show one run."""
    with common.connect(ctx) as client:
        run = client.get_run(run_id)
    fmt.emit(common.state(ctx).console, output, run, fmt.run_table)
