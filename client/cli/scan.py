"""``assay scan PATH...``: assess manifest files with no server to run.

The command starts the server embedded in this process (:mod:`embedded`) and then does
what ``assay run --path`` does against any server: uploads the files, follows the run
(progress on stderr), lists the results, and reports them on stdout as a table, JSON,
YAML, SARIF 2.1.0 or JUnit XML. It always gates (see :mod:`outcome`): exit 0, 2 for a
failing result at or above ``--fail-on`` (any, by default), 3 for a partial run, 1 for a
usage or input error. ``--baseline`` (a previous ``-o json`` report) reports and gates on
new failing findings only and says how many were fixed.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Group
from typer.core import TyperCommand

from assay.client import formatters as fmt
from assay.client.api import AssayClient, ClientError
from assay.client.cli import common, outcome
from assay.client.cli.embedded import EmbeddedOptions, embedded_server
from assay.client.cli.outcome import SHOW_HELP, SeverityChoice, ShowChoice
from assay.client.manifests import ManifestInputError, manifest_inputs, read_chunks
from assay.client.report.compare import Comparison, compare
from assay.client.report.document import BaselineError, read_baseline, report
from assay.client.report.grouped import grouped_findings
from assay.client.report.junit import junit_xml
from assay.client.report.sarif import sarif_log
from assay.server.settings import StartupError
from assay.v1 import assessment_pb2 as apb
from assay.v1 import common_pb2 as cpb

NOT_PASSING = (cpb.STATUS_FAILING, cpb.STATUS_WARNING, cpb.STATUS_ERROR, cpb.STATUS_TIMEOUT)
"""What the json, yaml and SARIF reports list: what failed, warned or was not assessed."""


class ScanOutput(enum.StrEnum):
    TABLE = "table"
    JSON = "json"
    YAML = "yaml"
    SARIF = "sarif"
    JUNIT = "junit"


_UsageError: type[Exception] = typer.BadParameter.__mro__[1]
"""click's UsageError, of whichever click typer uses (``BadParameter`` derives from it)."""


class ScanCommand(TyperCommand):
    """Usage errors exit 1 here, not click's 2: to a CI gate, 2 means findings."""

    def make_context(self, info_name: Any, args: Any, parent: Any = None, **extra: Any) -> Any:
        with _usage_exits_1():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: Any) -> Any:
        with _usage_exits_1():
            return super().invoke(ctx)


@contextmanager
def _usage_exits_1() -> Iterator[None]:
    try:
        yield
    except _UsageError as error:
        setattr(error, "exit_code", 1)  # noqa: B010 (a class attribute, set on the instance)
        raise


def scan(
    ctx: typer.Context,
    paths: Annotated[
        list[str],
        typer.Argument(
            help="Manifest files, directories (read recursively) or - for stdin.",
            show_default=False,
        ),
    ],
    pillar: Annotated[
        list[str] | None,
        typer.Option("--pillar", "-p", help="Only these pillars (repeatable or comma list)."),
    ] = None,
    check: Annotated[
        str | None, typer.Option("--check", help="Only this check, e.g. SEC-001.")
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option(
            "--policy", help="Policy file: switch checks off, severities, parameters, exemptions."
        ),
    ] = None,
    fail_on: Annotated[
        SeverityChoice,
        typer.Option(
            "--fail-on",
            help="Exit 2 when a failing result at or above this severity exists (default: any).",
        ),
    ] = SeverityChoice.INFO,
    baseline: Annotated[
        Path | None,
        typer.Option(
            "--baseline",
            help="A previous `assay scan -o json` report: report and gate on new failing "
            "findings only.",
        ),
    ] = None,
    check_timeout: Annotated[
        float | None,
        typer.Option("--check-timeout", help="Seconds each check may take (default 30).", min=0),
    ] = None,
    show: Annotated[ShowChoice, typer.Option("--show", help=SHOW_HELP)] = ShowChoice.TOP,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Server logs from info up on stderr.")
    ] = False,
    output: Annotated[
        ScanOutput,
        typer.Option(
            "--output",
            "-o",
            help="Report format on stdout: table (for people), json or yaml (the run, its "
            "summary and findings), sarif (code scanning), junit (CI test reports).",
        ),
    ] = ScanOutput.TABLE,
) -> None:
    """Assess manifest files here, with an embedded server, and gate on the findings.

    Exit 0 when the gate passes, 2 on a failing result at or above --fail-on, 3 when a
    check errored or timed out, 1 on a usage or input error.
    """
    st = common.state(ctx)
    if check and pillar:
        raise common.fail(ctx, "--check and --pillar exclude each other")
    if check_timeout is not None and check_timeout <= 0:
        raise common.fail(ctx, "--check-timeout must be greater than 0")
    try:
        inputs = manifest_inputs(paths)
        before = read_baseline(baseline) if baseline is not None else None
    except (ManifestInputError, BaselineError) as error:
        raise common.fail(ctx, str(error)) from None
    request = apb.StartRunRequest(pillars=common.pillars(pillar), check_id=check or "")
    stdin = sys.stdin.buffer
    uploads = [(i.name, read_chunks(i, stdin)) for i in inputs]
    options = EmbeddedOptions(policy=policy, check_timeout_s=check_timeout, verbose=verbose)
    try:
        with (
            embedded_server(options) as target,
            AssayClient(target, timeout_s=st.timeout_s) as client,
        ):
            started = client.start_manifest_run(request, uploads)
            finished = outcome.follow(st, client, started, progress=True, embedded=True)
            results = outcome.run_results(client, started.run_id, _statuses(output))
            checks = client.list_checks(list(request.pillars)) if output is ScanOutput.SARIF else []
    except StartupError as error:
        raise common.fail(ctx, str(error)) from None
    except ClientError as error:
        raise common.fail(ctx, str(error)) from None
    run = finished.run
    for diagnostic in run.diagnostics:
        st.errors.print(f"warning: {diagnostic}", markup=False, highlight=False, soft_wrap=True)
    failing = [r for r in results if r.status == cpb.STATUS_FAILING]
    comparison = compare(before, failing) if before is not None else None
    if comparison is not None:
        results = _without_known(results, comparison)
        failing = comparison.new
        st.errors.print(
            f"baseline {baseline}: {len(comparison.new)} new, {len(comparison.unchanged)} "
            f"unchanged, {len(comparison.fixed)} fixed failing findings",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if check:
        checks = [c for c in checks if c.id == check]
    _print(st, output, run, finished.summary, results, failing, checks, comparison, show)
    outcome.gate(
        st,
        run,
        fail_on=fail_on,
        failing=(r.severity for r in failing),
        what="new failing results" if comparison is not None else "failing results",
    )


def _statuses(output: ScanOutput) -> tuple[cpb.Status.ValueType, ...]:
    if output is ScanOutput.TABLE:
        return (cpb.STATUS_FAILING,)
    if output is ScanOutput.JUNIT:
        return ()  # every result is a test case
    return NOT_PASSING


def _without_known(
    results: list[apb.AssessmentResult], comparison: Comparison
) -> list[apb.AssessmentResult]:
    """``results`` less the failing ones the baseline already had."""
    known = {id(r) for r in comparison.unchanged}
    return [r for r in results if id(r) not in known]


def _print(
    st: common.CliState,
    output: ScanOutput,
    run: apb.RunState,
    summary: apb.Summary,
    results: list[apb.AssessmentResult],
    failing: list[apb.AssessmentResult],
    checks: list[apb.CheckDefinition],
    comparison: Comparison | None,
    show: ShowChoice,
) -> None:
    if output is ScanOutput.TABLE:
        title = "New failing findings by check" if comparison else "Failing findings by check"
        fmt.show(
            st.console,
            Group(
                fmt.summary_table(summary),
                grouped_findings(failing, title=title, show_all=show is ShowChoice.ALL),
            ),
        )
    elif output in (ScanOutput.JSON, ScanOutput.YAML):
        data = report(run, summary, results, to_data=fmt.to_data, baseline=comparison)
        fmt.write_data(sys.stdout, fmt.Output(output.value), data, compact=True)
    elif output is ScanOutput.SARIF:
        log = sarif_log(
            checks=checks,
            results=results,
            run=run,
            tool_version=_version(),
            new_only=comparison is not None,
        )
        fmt.write_data(sys.stdout, fmt.Output.JSON, log, compact=True)
    else:
        sys.stdout.buffer.write(junit_xml(results, name=f"assay scan {run.run_id}"))
        sys.stdout.flush()


def _version() -> str:
    try:
        return metadata.version("assay")
    except metadata.PackageNotFoundError:
        return "0+unknown"
