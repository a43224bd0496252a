"""The README's first command: the wheel that ``pip install .`` builds works on its own.

The wheel is built from a copy of the source (the checkout stays clean), unpacked, and put
first on ``sys.path`` of a fresh interpreter (the project's dependencies come from this
environment, which has no network to install them again), which then assesses the
examples as the README says: every module, migration and data file Assay needs at run time
must be in the wheel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# What the wheel is built from: the tree without the environment and build leftovers.
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "*.db"
)

# Offline: no index, and the build backend of this environment (setuptools).
PIP_WHEEL = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-index"]
PIP_WHEEL += ["--no-build-isolation"]
ASSAY = [sys.executable, "-c", "from assay.client.cli.main import main; main()"]

pytestmark = pytest.mark.heavy  # a wheel build and a scan: seconds


def run(command: list[str], cwd: Path, **environment: str) -> subprocess.CompletedProcess[str]:
    """``command`` in ``cwd``, its output captured, with ``environment`` added to ours."""
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **environment},
        timeout=300,
        check=False,
    )


def test_the_wheel_alone_scans_the_examples(tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    built = run([*PIP_WHEEL, "--wheel-dir", str(tmp_path / "dist"), str(source)], tmp_path)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (tmp_path / "dist").glob("assay-*.whl")
    installed = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(installed)
        (entry_points,) = (n for n in archive.namelist() if n.endswith("entry_points.txt"))
        assert "assay = assay.client.cli.main:main" in archive.read(entry_points).decode()

    where = run(
        [sys.executable, "-c", "import assay.server; print(assay.server.__file__)"],
        tmp_path,
        PYTHONPATH=str(installed),
    )
    assert Path(where.stdout.strip()).is_relative_to(installed), where.stderr

    scan = run([*ASSAY, "scan", str(ROOT / "examples")], tmp_path, PYTHONPATH=str(installed))
    # 2: the examples have failing findings (README); anything else is a broken install.
    assert scan.returncode == 2, scan.stdout + scan.stderr
    assert "Traceback" not in scan.stderr
    assert scan.stdout.startswith("Summary of run ")
    assert "Failing findings by check" in scan.stdout
