"""Collect the manifest files of a StartManifestRun stream, within the server's limits.

The servicer reads the first message (the run) itself and hands the rest of the stream
here. Each file arrives as consecutive chunks carrying its name; names are labels for
diagnostics and reports, checked to be printable and short, and are never opened. Every
chunk's name and data are counted as they arrive (so no stream of tiny chunks with long
names escapes the count) and the call ends with RESOURCE_EXHAUSTED as soon as the total
passes ``limit`` (the error says the limit): an oversized upload is never held in memory.
So does a file count past :data:`MAX_FILES`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from assay.server.core.errors import FieldViolation, InvalidArgument, ResourceExhausted
from assay.server.inventory.limits import DEFAULT_LIMITS
from assay.server.inventory.tree import ManifestFile
from assay.v1 import assessment_pb2 as apb

MAX_FILES = DEFAULT_LIMITS.max_files
MAX_NAME_BYTES = 1024


def name_problem(name: str) -> str:
    """Why ``name`` cannot label an uploaded file ("" when it can)."""
    if not name:
        return "a file name is required"
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        return f"a file name may have at most {MAX_NAME_BYTES} bytes"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "a file name may not contain control characters"
    return ""


def _too_large(limit: int) -> ResourceExhausted:
    return ResourceExhausted(
        f"the uploaded manifests exceed this server's limit of {limit} bytes "
        "(ASSAY_MAX_UPLOAD_BYTES)"
    )


async def collect_manifests(
    stream: AsyncIterator[apb.StartManifestRunRequest], *, limit: int
) -> tuple[ManifestFile, ...]:
    """The files of the rest of ``stream``; InvalidArgument or ResourceExhausted."""
    files: list[ManifestFile] = []
    seen: set[str] = set()
    name: str | None = None
    buffer = bytearray()
    total = 0
    async for message in stream:
        if message.WhichOneof("part") != "chunk":
            raise InvalidArgument(
                FieldViolation("run", "only the first message of the stream carries the run")
            )
        chunk = message.chunk
        if chunk.name != name:
            if name is not None:
                files.append(ManifestFile(name, bytes(buffer)))
                buffer.clear()
            problem = name_problem(chunk.name) or (
                "the chunks of a file must be consecutive" if chunk.name in seen else ""
            )
            if problem:
                raise InvalidArgument(FieldViolation("chunk.name", problem))
            if len(files) >= MAX_FILES:
                raise ResourceExhausted(f"at most {MAX_FILES} manifest files per run")
            name = chunk.name
            seen.add(name)
        total += len(name.encode("utf-8")) + len(chunk.data)
        if total > limit:
            raise _too_large(limit)
        buffer.extend(chunk.data)
    if name is not None:
        files.append(ManifestFile(name, bytes(buffer)))
    if not files:
        raise InvalidArgument(FieldViolation("chunk", "no manifest file was uploaded"))
    return tuple(files)
