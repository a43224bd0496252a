"""README.md says what is true: its configuration table is the settings object's, its second
command is what CI runs, and its first command's scan runs, through the installed ``assay``
command, on the repository's examples."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from assay.server.settings import markdown_table, options

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BEGIN, END = "<!-- settings:begin -->\n", "<!-- settings:end -->"


def two_commands() -> list[str]:
    section = README.partition("## Two commands")[2].partition("\n## ")[0]
    return re.findall(r"```sh\n(.*?)\n```", section, flags=re.DOTALL)


def test_the_settings_table_is_generated_from_the_settings() -> None:
    table = README.partition(BEGIN)[2].partition(END)[0]
    assert table == markdown_table(), "README.md's settings table is stale: run scripts/generate"
    for option in options():
        assert f"| `{option.env}` |" in table


def test_ci_runs_exactly_the_second_command() -> None:
    commands = two_commands()
    assert len(commands) == 2 and all("\n" not in c for c in commands)
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert ci[-1] == commands[1]
    assert "pip install -e '.[dev]'" in commands[1] and commands[1].endswith("scripts/test")


def test_the_first_command_scans_the_examples() -> None:
    first = two_commands()[0]
    install, scan = first.rsplit(" && ", 1)
    assert install == "python3 -m venv .venv && .venv/bin/pip install ."
    assert scan == ".venv/bin/assay scan examples/"
    # The same console script, installed in the venv running the suite.
    assay = shutil.which("assay", path=str(Path(sys.executable).parent))
    assert assay is not None
    done = subprocess.run(
        [assay, *scan.split()[1:]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "100"},
    )
    assert done.returncode == 2, done.stderr  # the examples have failing findings
    assert "Summary of run" in done.stdout
    assert "Failing findings by check" in done.stdout
    assert "examples/shop/" in done.stdout  # findings point at their files
    assert "failing results at or above severity info" in done.stderr
