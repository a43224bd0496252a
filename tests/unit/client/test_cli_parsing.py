"""Option parsing of the CLI: pillars, statuses, --since."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import typer
import typer.main
from typer.testing import CliRunner

from assay.client import formatters as fmt
from assay.client.cli import common, main
from assay.v1 import common_pb2 as cpb

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_pillars_accept_names_prefixes_and_comma_lists() -> None:
    assert common.pillars(["security,REL", "perf", "cost-optimization", "ops", "SUS"]) == [
        cpb.PILLAR_SECURITY,
        cpb.PILLAR_RELIABILITY,
        cpb.PILLAR_PERFORMANCE_EFFICIENCY,
        cpb.PILLAR_COST_OPTIMIZATION,
        cpb.PILLAR_OPERATIONAL_EXCELLENCE,
        cpb.PILLAR_SUSTAINABILITY,
    ]
    assert common.pillars(["sec", "security"]) == [cpb.PILLAR_SECURITY]
    assert common.pillars(None) == []


def test_unknown_choice_names_the_value() -> None:
    with pytest.raises(typer.BadParameter, match="unknown status 'broken'"):
        common.statuses(["failing,broken"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", datetime(2026, 11, 22, 11, 30, tzinfo=UTC)),
        ("24h", datetime(2026, 11, 21, 12, 0, tzinfo=UTC)),
        ("7d", datetime(2026, 11, 15, 12, 0, tzinfo=UTC)),
        ("2026-02-16T10:30:00", datetime(2026, 2, 16, 10, 30, tzinfo=UTC)),
        ("2026-02-16T12:30:00+02:00", datetime(2026, 2, 16, 10, 30, tzinfo=UTC)),
    ],
)
def test_since_accepts_ages_and_iso_times(text: str, expected: datetime) -> None:
    ts = common.since(text, now=NOW)
    assert ts is not None and ts.ToDatetime(tzinfo=UTC) == expected


def test_since_rejects_garbage() -> None:
    with pytest.raises(typer.BadParameter, match="neither an ISO 8601 time"):
        common.since("yesterday-ish", now=NOW)


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """Every leaf command of the CLI under its path (typer's own click, walked by shape)."""
    subcommands = getattr(command, "commands", None)
    if subcommands is None:
        yield " ".join(path), command
        return
    for name, sub in subcommands.items():
        yield from _commands(sub, (*path, name))


def test_every_output_option_has_help_listing_the_choices() -> None:
    commands = dict(_commands(typer.main.get_command(main.app)))
    with_output = {
        name: option
        for name, command in commands.items()
        for option in command.params
        if option.name == "output"
    }
    expected = {"query assessments list", "query runs get", "checks list", "workflows list", "run"}
    assert expected <= set(with_output)
    scan = with_output.pop("scan")  # report formats of its own, for CI systems
    assert scan.help is not None
    assert all(f in scan.help for f in ("table", "json", "yaml", "sarif", "junit"))
    for name, option in with_output.items():
        assert option.opts == ["--output", "-o"] and option.help == fmt.OUTPUT_HELP, name
        shown = CliRunner().invoke(main.app, [*name.split(), "--help"], env={"COLUMNS": "250"})
        assert "table|wide|json|yaml" in shown.stdout, name
        assert "wide: every column, full ids" in shown.stdout, name
