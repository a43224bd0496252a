"""Reading a rendered CLI table back: the text of one column."""

from __future__ import annotations


def column(out: str, header: str, next_header: str | None = None) -> str:
    """The text under ``header`` (up to ``next_header``, or the line's end) in the first
    table of ``out``, its wrapped lines joined by spaces; the header row is the first line
    that starts with ``STATUS`` or ``ID``."""
    lines = out.splitlines()
    heading = next(line for line in lines if line.split()[:1] in (["STATUS"], ["ID"]))
    start = heading.index(header)
    end = heading.index(next_header) if next_header else None
    rows = lines[lines.index(heading) + 1 :]
    return " ".join(part for line in rows if (part := line[start:end].strip()))
