"""The wheel ships every package: pyproject's explicit list matches the source tree."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAPPING = {"generated/assay": "assay", "server": "assay.server", "client": "assay.client"}


def test_every_source_package_is_listed_for_the_wheel() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    on_disk = set()
    for folder, prefix in MAPPING.items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            relative = init.parent.relative_to(base).parts
            on_disk.add(".".join((prefix, *relative)))
    assert on_disk == listed
