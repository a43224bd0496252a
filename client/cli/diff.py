"""``assay query assessments diff RUN_A RUN_B``: the failing results that are new in RUN_B,
fixed since RUN_A, and still failing, between two stored runs.

Client-side: each run's failing results are read page by page (ListAssessments filtered by
run and status), then compared once (:mod:`assay.client.report.compare`, the comparison
``assay scan --baseline`` uses): linear in the two runs' failing results.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Group, RenderableType
from rich.text import Text

from assay.client import formatters as fmt
from assay.client.cli import common, outcome
from assay.client.formatters import Output
from assay.client.report.compare import Comparison, compare
from assay.client.report.grouped import grouped_findings
from assay.v1 import common_pb2 as cpb


def diff(
    ctx: typer.Context,
    run_a: Annotated[str, typer.Argument(help="The earlier run id.")],
    run_b: Annotated[str, typer.Argument(help="The later run id.")],
    output: common.OutputOpt = Output.TABLE,
) -> None:
    """New, fixed and still-failing results between two runs (same check, object and
    container)."""
    with common.connect(ctx) as client:
        client.get_run(run_a)  # NOT_FOUND names the run before any listing
        client.get_run(run_b)
        before = outcome.run_results(client, run_a, [cpb.STATUS_FAILING])
        after = outcome.run_results(client, run_b, [cpb.STATUS_FAILING])
    comparison = compare(before, after)
    st = common.state(ctx)
    if output in (Output.TABLE, Output.WIDE):
        fmt.show(st.console, _tables(run_a, run_b, comparison), wide=output is Output.WIDE)
        return
    data: dict[str, Any] = {
        "run_a": run_a,
        "run_b": run_b,
        "new": [fmt.to_data(r) for r in comparison.new],
        "fixed": [fmt.to_data(r) for r in comparison.fixed],
        "still_failing": [fmt.to_data(r) for r in comparison.unchanged],
    }
    fmt.write_data(st.console.file, output, data)


def _tables(run_a: str, run_b: str, comparison: Comparison) -> RenderableType:
    heading = Text(
        f"From {run_a} to {run_b}: {len(comparison.new)} new, {len(comparison.fixed)} fixed, "
        f"{len(comparison.unchanged)} still failing",
        style="bold",
    )
    return Group(
        heading,
        grouped_findings(comparison.new, title="New", show_all=True),
        grouped_findings(comparison.fixed, title="Fixed", show_all=True),
        grouped_findings(comparison.unchanged, title="Still failing", show_all=True),
    )
