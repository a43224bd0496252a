"""Where inventory inputs came from and what was wrong with them.

:class:`Diagnostic` is one problem with one input (a file, a document, a kind that could not
be listed); :class:`Origin` is the file, document and line an object was read from, which
the inventory keeps so a finding can point at its source line; :class:`DiagnosticLog` keeps
at most a set number of diagnostics and counts the rest, so a hostile input cannot turn
into an unbounded run record.

Imported by the manifest readers and parsers (which must stay importable without the rest of
the server), by :mod:`~assay.server.inventory.model` and by the live loader.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """A problem with one input (a file, a document, a kind that could not be listed).

    ``document`` is the 1-based position of the document in a multi-document file, ``item``
    the 0-based index inside a ``List`` document and ``line`` the 1-based line the problem
    was found at, when they apply.
    """

    path: str
    message: str
    document: int | None = None
    item: int | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        if self.document is not None:
            where += f" (document {self.document}"
            where += f", item {self.item})" if self.item is not None else ")"
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an object was read from: its file (as named to the parser), the 1-based
    document in that file, the 1-based line the object starts at, and its 0-based index
    when it was an item of a ``List`` document."""

    path: str
    document: int
    line: int
    item: int | None = None

    def diagnostic(self, message: str) -> Diagnostic:
        return Diagnostic(self.path, message, self.document, self.item, self.line)

    def __str__(self) -> str:
        where = f"{self.path}:{self.line} (document {self.document}"
        return where + (f", item {self.item})" if self.item is not None else ")")


class DiagnosticLog:
    """Collects diagnostics, keeping the first ``limit`` and counting the rest.

    :meth:`result` gives the kept ones followed, when some were dropped, by one diagnostic
    that says how many more there were.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"a diagnostic log keeps at least one diagnostic, not {limit}")
        self._limit = limit
        self._kept: list[Diagnostic] = []
        self.dropped = 0

    def add(self, diagnostic: Diagnostic) -> None:
        if len(self._kept) < self._limit:
            self._kept.append(diagnostic)
        else:
            self.dropped += 1

    def extend(self, diagnostics: list[Diagnostic]) -> None:
        room = self._limit - len(self._kept)
        self._kept.extend(diagnostics[: max(room, 0)])
        self.dropped += max(len(diagnostics) - max(room, 0), 0)

    def __len__(self) -> int:
        return len(self._kept) + self.dropped

    def result(self, path: str) -> list[Diagnostic]:
        """The kept diagnostics, then a summary (filed under ``path``) of those dropped."""
        if not self.dropped:
            return list(self._kept)
        more = "problem" if self.dropped == 1 else "problems"
        summary = Diagnostic(
            path,
            f"and {self.dropped:,} more {more} not shown "
            f"(at most {self._limit:,} are kept per run)",
        )
        return [*self._kept, summary]
