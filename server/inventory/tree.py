"""Read manifest files from a path on this host, within limits, opening nothing but files.

Called by :func:`~assay.server.inventory.manifests.read_manifests` (runs and schedules
that name a directory of the server's own) and meant for the CLI, which reads local files
to send them: it imports nothing of the server beyond this package's parsing modules.

A path that is a file is read whatever its suffix; a directory is walked depth first in
sorted name order (the order of the files' sorted paths), taking ``.yaml``, ``.yml`` and
``.json`` files and skipping names that start with a dot (``.git``, Kubernetes' ``..data``
of a mounted ConfigMap). Files reached through symbolic links are read; links to
directories are reported, not followed, so the walk is finite and stays in the tree.

Only regular files are opened: a FIFO, a device (a link to ``/dev/zero``) or a socket is a
diagnostic and is never opened, so nothing blocks or streams without end. The file's size
is checked before reading, the read stops one byte past the per-file limit, and the total
across files is bounded. A directory or file that cannot be listed or read is a diagnostic,
never skipped silently.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from collections.abc import Callable, Iterator
from typing import NamedTuple

from assay.server.inventory.errors import ManifestPathNotFound
from assay.server.inventory.limits import DEFAULT_LIMITS, ManifestLimits
from assay.server.inventory.provenance import Diagnostic

MANIFEST_SUFFIXES = frozenset({".yaml", ".yml", ".json"})

_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
_CHUNK = 1 << 20

Report = Callable[[Diagnostic], None]


class ManifestFile(NamedTuple):
    """A file's name (its path as walked, see :func:`shown`) and its bytes."""

    name: str
    data: bytes


def read_tree(
    path: str | os.PathLike[str], limits: ManifestLimits = DEFAULT_LIMITS
) -> tuple[list[ManifestFile], list[Diagnostic]]:
    """Every manifest file under ``path`` (or ``path`` itself), with the problems met.

    Raises :class:`ManifestPathNotFound` when ``path`` does not exist.
    """
    diagnostics: list[Diagnostic] = []
    files = list(iter_tree(path, limits, diagnostics.append))
    return files, diagnostics


def iter_tree(
    path: str | os.PathLike[str], limits: ManifestLimits, report: Report
) -> Iterator[ManifestFile]:
    """Like :func:`read_tree`, one file at a time (so only one file's bytes need be held),
    handing each problem to ``report`` as it is met. Directories are listed as the walk
    reaches them."""
    root = os.fspath(path)
    report = _with_shown_paths(report)
    try:
        info = os.stat(root)
    except (FileNotFoundError, NotADirectoryError):
        raise ManifestPathNotFound(root) from None
    except OSError as exc:
        report(Diagnostic(root, f"cannot read: {_reason(exc)}"))
        return
    candidates = _walk(root, report) if stat.S_ISDIR(info.st_mode) else iter([root])
    budget = _Budget(limits)
    for index, name in enumerate(candidates):
        if index >= limits.max_files:
            message = (
                f"more than {limits.max_files:,} manifest files (the limit): this file and "
                "those after it are not read"
            )
            report(Diagnostic(name, message))
            break
        if budget.spent:
            budget.skipped += 1
            continue
        data = _read(name, budget, report)
        if data is not None:
            yield ManifestFile(shown(name), data)
    if budget.skipped:
        after = budget.skipped - 1
        rest = f"this file and the {after:,} after it are" if after else "this file is"
        message = (
            f"over the limit of {limits.max_total_bytes:,} bytes for all files: {rest} not read"
        )
        report(Diagnostic(budget.stopped_at, message))


class _Budget:
    def __init__(self, limits: ManifestLimits) -> None:
        self.max_file = limits.max_file_bytes
        self.left = limits.max_total_bytes
        self.spent = False
        self.skipped = 0
        self.stopped_at = ""


def _walk(root: str, report: Report) -> Iterator[str]:
    """Manifest file paths under ``root`` in sorted path order, depth first."""
    listing = _list(root, report)
    if listing is None:
        return
    stack = [iter(listing)]
    while stack:
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
            continue
        if entry.name.startswith("."):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                listing = _list(entry.path, report)
                if listing is not None:
                    stack.append(iter(listing))
                continue
            if entry.is_symlink() and entry.is_dir():
                report(Diagnostic(entry.path, "a link to a directory; not followed"))
                continue
        except OSError as exc:
            report(Diagnostic(entry.path, f"cannot read: {_reason(exc)}"))
            continue
        if os.path.splitext(entry.name)[1].lower() in MANIFEST_SUFFIXES:
            yield entry.path


def _list(directory: str, report: Report) -> list[os.DirEntry[str]] | None:
    try:
        with os.scandir(directory) as entries:
            return sorted(entries, key=lambda entry: entry.name)
    except OSError as exc:
        report(Diagnostic(directory, f"cannot list directory: {_reason(exc)}"))
        return None


def _read(name: str, budget: _Budget, report: Report) -> bytes | None:
    """The bytes of regular file ``name``, or ``None`` after reporting why not."""
    try:
        info = os.stat(name)
        if not stat.S_ISREG(info.st_mode):
            report(Diagnostic(name, f"not a regular file but {_file_type(info.st_mode)}; not read"))
            return None
        if info.st_size > budget.max_file:
            report(Diagnostic(name, _over(info.st_size, budget.max_file)))
            return None
        if info.st_size > budget.left:
            budget.spent, budget.skipped, budget.stopped_at = True, 1, name
            return None
        fd = os.open(name, _OPEN_FLAGS)
        try:
            opened = os.fstat(fd)
            if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != (
                info.st_dev,
                info.st_ino,
            ):
                report(Diagnostic(name, "replaced while being read; not read"))
                return None
            data = _read_at_most(fd, min(budget.max_file, budget.left), info.st_size)
        finally:
            os.close(fd)
    except OSError as exc:
        report(Diagnostic(name, f"cannot read: {_reason(exc)}"))
        return None
    if len(data) > budget.max_file:
        report(Diagnostic(name, _over(len(data), budget.max_file)))
        return None
    if len(data) > budget.left:
        budget.spent, budget.skipped, budget.stopped_at = True, 1, name
        return None
    budget.left -= len(data)
    return data


def _read_at_most(fd: int, limit: int, expected: int) -> bytes:
    """Up to ``limit + 1`` bytes of ``fd``: one past the limit tells that the file grew."""
    chunks: list[bytes] = []
    got, cap = 0, limit + 1
    while got < cap:
        chunk = os.read(fd, min(cap - got, max(expected + 1 - got, _CHUNK)))
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _over(size: int, limit: int) -> str:
    return f"is {size:,} bytes, over the limit of {limit:,} bytes per file; not read"


def _file_type(mode: int) -> str:
    for test, label in (
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a directory"),
    ):
        if test(mode):
            return label
    return "a special file"


def shown(path: str) -> str:
    """``path`` as text that any encoder takes: a file name that is not UTF-8 reaches Python
    with lone surrogates (``os.fsdecode``), which no database, protobuf or terminal would
    accept; they become U+FFFD. The file is still opened by its real name."""
    if path.isascii():
        return path
    return os.fsencode(path).decode("utf-8", "replace")


def _with_shown_paths(report: Report) -> Report:
    def shown_report(diagnostic: Diagnostic) -> None:
        report(dataclasses.replace(diagnostic, path=shown(diagnostic.path)))

    return shown_report


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__
