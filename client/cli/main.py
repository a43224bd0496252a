"""The ``assay`` command: the root typer app and its command groups."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from assay.client.api import DEFAULT_SERVER, DEFAULT_TIMEOUT_S
from assay.client.cli import common, query, run, scan, serve, workflows

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
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="ASSAY_TOKEN",
            help="Bearer token sent with every call.",
            show_default=False,
        ),
    ] = None,
    token_file: Annotated[
        Path | None,
        typer.Option(
            "--token-file",
            help="File holding the bearer token (e.g. a projected ServiceAccount token).",
        ),
    ] = None,
    ca: Annotated[
        Path | None,
        typer.Option("--ca", help="PEM CA bundle that signed the server's certificate."),
    ] = None,
    cert: Annotated[
        Path | None, typer.Option("--cert", help="PEM client certificate (mutual TLS).")
    ] = None,
    key: Annotated[Path | None, typer.Option("--key", help="PEM key of --cert.")] = None,
    insecure: Annotated[
        bool,
        typer.Option(
            "--insecure",
            help="Plaintext, no TLS (loopback servers are reached in plaintext anyway).",
        ),
    ] = False,
) -> None:
    ctx.obj = common.CliState(
        server=server,
        timeout_s=timeout,
        credentials=common.CredentialOptions(
            token=token, token_file=token_file, ca=ca, cert=cert, key=key, insecure=insecure
        ),
    )


app.command("serve")(serve.serve)
app.command("run")(run.run)
app.command("scan", cls=scan.ScanCommand)(scan.scan)
app.add_typer(query.app, name="query")
app.add_typer(run.runs_app, name="runs")
app.add_typer(run.checks_app, name="checks")
app.add_typer(workflows.app, name="workflows")


def main() -> None:
    app()
