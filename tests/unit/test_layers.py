"""The import contracts catch what they exist to catch.

A copy of the package gets four deliberately wrong modules, and lint-imports (with the
project's own configuration) must report each contract they break.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]

WRONG = {
    # the bottom reaching up into storage
    "server/core/wrong_upward.py": "import assay.server.storage.repository\n",
    # assessment and workflow must stay independent
    "server/assessment/wrong_sideways.py": "import assay.server.workflow.reconciler\n",
    # generated code outside the gRPC edge
    "server/storage/wrong_proto.py": "import assay.v1.common_pb2\n",
    # a new package that nobody placed in the stack
    "server/unplaced/__init__.py": "",
}


def test_lint_imports_reports_each_broken_contract(tmp_path: Path) -> None:
    package = tmp_path / "assay"
    shutil.copytree(ROOT / "generated" / "assay", package)
    for folder in ("server", "client"):
        shutil.copytree(
            ROOT / folder, package / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    for relative, text in WRONG.items():
        path = package / relative
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")

    lint_imports = Path(sys.executable).parent / "lint-imports"
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "The server is a stack of layers BROKEN" in out
    assert "assay.server.core.wrong_upward -> assay.server.storage.repository" in out
    assert "assay.server.unplaced" in out
    assert "Assessment and workflow execution are independent BROKEN" in out
    assert "Only the gRPC edge speaks gRPC and imports generated code BROKEN" in out
    assert "assay.server.storage.wrong_proto -> assay.v1.common_pb2" in out
