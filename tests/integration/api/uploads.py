"""Start manifest runs the way the CLI does: read files and trees here, upload them."""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from assay.client.api import AssayClient
from assay.client.manifests import manifest_inputs, read_chunks
from assay.v1 import assessment_pb2 as apb


def files(*paths: Path | str) -> list[tuple[str, Iterable[bytes]]]:
    """(name, chunks) of every manifest file under ``paths``, as ``assay run --path``."""
    empty = io.BytesIO()
    return [(i.name, read_chunks(i, empty)) for i in manifest_inputs([str(p) for p in paths])]


def start_manifest_run(client: AssayClient, *paths: Path | str, **fields: Any) -> apb.RunState:
    return client.start_manifest_run(apb.StartRunRequest(**fields), files(*paths))
