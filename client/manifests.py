"""Read the manifest files a run uploads: files, directory trees and standard input.

``assay run --path`` names files, directories (read recursively: every ``.yaml``, ``.yml``
and ``.json`` below, in sorted order, hidden names skipped, directory links not followed)
or ``-`` for standard input. Each file keeps the name the user gave it (joined with its
place under a directory; ``<stdin>`` for ``-``) so the server's diagnostics and reports
point at it. Files are read lazily, in chunks, as the upload streams them: the server's
size limit stops an oversized upload before the client has read it all.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

MANIFEST_SUFFIXES = frozenset({".yaml", ".yml", ".json"})
STDIN = "-"
STDIN_NAME = "<stdin>"
CHUNK_BYTES = 1024 * 1024


class ManifestInputError(ValueError):
    """A path that names nothing to upload."""


@dataclass(frozen=True)
class ManifestInput:
    """One file to upload: its name for the server, and where to read it (None: stdin)."""

    name: str
    path: Path | None


def manifest_inputs(paths: Sequence[str]) -> list[ManifestInput]:
    """The files ``paths`` name, in order; :class:`ManifestInputError` for a bad path."""
    found: list[ManifestInput] = []
    if sum(1 for p in paths if p == STDIN) > 1:
        raise ManifestInputError("'-' (standard input) can be given once")
    for given in paths:
        if given == STDIN:
            found.append(ManifestInput(STDIN_NAME, None))
            continue
        path = Path(given)
        if path.is_file():
            found.append(ManifestInput(given, path))
        elif path.is_dir():
            files = _tree(path)
            if not files:
                raise ManifestInputError(f"{given}: no .yaml, .yml or .json files below it")
            found.extend(ManifestInput(os.path.join(given, f), path / f) for f in files)
        else:
            raise ManifestInputError(f"{given}: no such file or directory")
    return found


def _tree(root: Path) -> list[str]:
    names: list[str] = []
    for directory, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        relative = os.path.relpath(directory, root)
        names.extend(
            os.path.normpath(os.path.join(relative, f))
            for f in files
            if not f.startswith(".") and Path(f).suffix.lower() in MANIFEST_SUFFIXES
        )
    return sorted(names)


def read_chunks(
    source: ManifestInput, stdin: BinaryIO, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[bytes]:
    """The content of ``source`` in pieces (at least one, maybe empty)."""
    stream = stdin if source.path is None else source.path.open("rb")
    try:
        first = True
        while True:
            data = stream.read(chunk_bytes)
            if data or first:
                yield data
            if not data:
                return
            first = False
    finally:
        if source.path is not None:
            stream.close()
