"""What the YAML and JSON loaders hand back: documents, problems, and quoting for messages.

:mod:`~assay.server.inventory.yamlload` and :mod:`~assay.server.inventory.jsonload` turn one
file's text into a stream of :class:`Document` and :class:`Problem` values;
:mod:`~assay.server.inventory.parse` turns those into objects and diagnostics. Messages
quote input through :func:`quote`, which shows at most a short, escaped prefix, so a
312 MB name or a NUL byte never reaches a diagnostic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

QUOTE_CHARS = 60

# Escapes that put a NUL in a string: YAML's \0, \x00, \u0000 and \U00000000 in
# double-quoted scalars, JSON's \u0000. Files without one skip the per-string NUL check.
_NUL_ESCAPE = re.compile(rb"\\(?:0|x00|u0000|U00000000)")
# JSON \uD800-\uDFFF escapes can leave a lone surrogate, which no UTF-8 encoder accepts.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


@dataclass(frozen=True, slots=True)
class Document:
    """One parsed document: its 1-based ``number`` in the file, the 1-based ``line`` its
    value starts at, the value itself, and the lines of the items of its top-level
    ``items`` sequence (empty when there is none or they are not known)."""

    number: int
    line: int
    value: Any
    item_lines: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong at a place in a file: document ``number`` (``None`` for the file as
    a whole) and ``line`` when known."""

    number: int | None
    line: int | None
    message: str


class Rejected(Exception):
    """A document breaks a rule or a limit: it is skipped, the file's other documents not."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def may_hold_bad_strings(data: bytes) -> bool:
    """Whether an escape in ``data`` could produce a NUL or a lone surrogate; only then
    are the parsed strings checked one by one."""
    return bool(_NUL_ESCAPE.search(data) or _SURROGATE_ESCAPE.search(data))


def bad_string(text: str) -> str:
    """Why ``text`` cannot be kept ("" when it can)."""
    if "\x00" in text:
        return "a string holds a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "a string holds a lone UTF-16 surrogate (\\uD800-\\uDFFF)"
    return ""


def type_name(value: object) -> str:
    """The YAML/JSON name of ``value``'s type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, list):
        return "list"
    if isinstance(value, bytes):
        return "binary value"
    return type(value).__name__


def quote(value: object, limit: int = QUOTE_CHARS) -> str:
    """``value`` for a message: a string as an escaped prefix of at most ``limit``
    characters (with its full length when cut), anything else by its type name."""
    if not isinstance(value, str):
        return f"a {type_name(value)}"
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value):,} characters)"
