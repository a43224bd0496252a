"""``assay serve``: start the server with settings from ASSAY_* variables and flags.

The flags are generated from the server's settings tree (``assay.server.settings``), one
per setting, so every setting is reachable and ``--help`` shows each one's default and
variable. Values are passed on as text and parsed by the settings loader, so a flag and its
variable accept the same things and fail the same way: a bad value, or anything that stops
the server from starting, is one line on stderr and exit status 1, never a traceback.

The one place where the client package reaches into the server (an import-linter
exception): the CLI is also how operators start the process.
"""

from __future__ import annotations

import inspect
import os
from typing import Annotated, Any

import typer

from assay.client.cli import common
from assay.server.settings import Option, StartupError, load_settings, options


def _help(option: Option) -> str:
    choices = f" One of: {', '.join(option.choices)}." if option.choices else ""
    if option.kind is tuple:
        choices = " Comma-separated."
    return f"{option.help}{choices} (default: {option.default_text}; env: {option.env})"


def _metavar(option: Option) -> str:
    if option.kind is tuple:
        return "LIST"
    return "|".join(option.choices) or option.kind.__name__.upper()


def _parameter(option: Option) -> inspect.Parameter:
    panel = option.group.rstrip(".")
    if option.kind is bool:
        switch = option.flags[0]
        names = [f"{switch}/--no-{switch.removeprefix('--')}"]
        annotation: Any = Annotated[
            bool | None,
            typer.Option(*names, help=_help(option), show_default=False, rich_help_panel=panel),
        ]
    else:
        annotation = Annotated[
            str | None,
            typer.Option(
                *option.flags,
                help=_help(option),
                show_default=False,
                metavar=_metavar(option),
                rich_help_panel=panel,
            ),
        ]
    return inspect.Parameter(
        option.param, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation
    )


def serve(ctx: typer.Context, print_settings: bool = False, **flags: Any) -> None:
    """Run the Assay gRPC server until SIGTERM or SIGINT."""
    from assay.server.app import run_server

    given = {option.dotted: flags.get(option.param) for option in options()}
    try:
        settings = load_settings(os.environ, given)
        if print_settings:
            for option in options():
                typer.echo(f"{option.env}={option.format(option.value_in(settings))}")
            return
        run_server(settings)
    except StartupError as error:
        raise common.fail(ctx, str(error)) from None


_PRINT_SETTINGS = inspect.Parameter(
    "print_settings",
    inspect.Parameter.KEYWORD_ONLY,
    default=False,
    annotation=Annotated[
        bool,
        typer.Option(
            "--print-settings",
            help="Check the settings, print them as ASSAY_* variables (secrets hidden), exit.",
        ),
    ],
)
serve.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [
        inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context),
        _PRINT_SETTINGS,
        *(_parameter(option) for option in options()),
    ]
)
