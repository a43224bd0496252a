"""The ``assay`` command: the root typer app and its command groups."""

from __future__ import annotations

from typing import Annotated

import typer

from assay.client.api import DEFAULT_SERVER, DEFAULT_TIMEOUT_S
from assay.client.cli import common, query, run, serve, workflows

app = typer.Typer(
    name="assay",
    help="Assay: Well-Architected assessments and remediation workflows for Kubernetes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def root(
    ctx: typer.Context,
    server: Annotated[
        str, typer.Option("--server", envvar="ASSAY_SERVER", help="Assay server HOST:PORT.")
    ] = DEFAULT_SERVER,
    timeout: Annotated[
        float, typer.Option("--rpc-timeout", help="Seconds to wait for each RPC.")
    ] = DEFAULT_TIMEOUT_S,
) -> None:
    ctx.obj = common.CliState(server=server, timeout_s=timeout)


app.command("serve")(serve.serve)
app.command("run")(run.run)
app.add_typer(query.app, name="query")
app.add_typer(run.runs_app, name="runs")
app.add_typer(run.checks_app, name="checks")
app.add_typer(workflows.app, name="workflows")


def main() -> None:
    app()
