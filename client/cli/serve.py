"""``assay serve``: start the server with settings from ASSAY_* variables and these flags.

The one place where the client package reaches into the server (an import-linter exception):
the CLI is also how operators start the process.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from assay.client.cli import common


def serve(
    ctx: typer.Context,
    listen: Annotated[
        str | None, typer.Option("--listen", help="HOST:PORT to serve gRPC on [ASSAY_LISTEN].")
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", help="SQLAlchemy URL [ASSAY_DATABASE_URL]; SQLite default."),
    ] = None,
    http_port: Annotated[
        int | None,
        typer.Option("--http-port", help="Port of /healthz, /readyz, /metrics; 0 disables."),
    ] = None,
    schedule: Annotated[
        str | None, typer.Option("--schedule", help="Cron expression for full runs.")
    ] = None,
    cluster_id: Annotated[str | None, typer.Option("--cluster-id", help="Cluster id.")] = None,
    kube_context: Annotated[
        str | None, typer.Option("--context", help="kubeconfig context for live assessments.")
    ] = None,
    policy: Annotated[
        str | None,
        typer.Option("--policy", help="Policy file: check switches, severities, exemptions."),
    ] = None,
    workflows: Annotated[
        bool | None,
        typer.Option("--workflows/--no-workflows", help="Run the WorkflowExecution reconciler."),
    ] = None,
) -> None:
    """Run the Assay gRPC server until SIGTERM or SIGINT."""
    from assay.server.app import run_server
    from assay.server.core.errors import AssayError, InvalidArgument
    from assay.server.settings import Settings

    try:
        settings = Settings.from_env(os.environ).with_overrides(
            listen=listen,
            database_url=database_url,
            http_port=http_port,
            cluster_id=cluster_id,
            kube_context=kube_context,
            policy=policy,
            assessment__schedule=schedule,
            workflow__enabled=workflows,
        )
    except InvalidArgument as error:
        raise common.fail(ctx, f"invalid settings: {error}") from None
    try:
        run_server(settings)
    except (OSError, AssayError) as error:
        raise common.fail(ctx, f"cannot start the server: {error}") from None
