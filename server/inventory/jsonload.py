"""Bounded JSON loading: one document, its duplicate keys, nesting and size checked.

Called by :mod:`~assay.server.inventory.parse` for ``.json`` files. The standard library's
C decoder does the parsing; this module adds what it lacks for hostile input:

- duplicate keys are reported (the decoder keeps the last silently; so does this, with a
  diagnostic);
- nesting deeper than ``max_depth`` skips the document with a diagnostic, including input
  so deep that the decoder itself gives up (``RecursionError``), instead of failing the run;
- a document of more than ``max_document_nodes`` values is skipped, as for YAML;
- strings holding NUL or a lone surrogate (from ``\\u0000`` or ``\\uD800`` escapes) skip it;
- the items of a top-level ``items`` array (``kubectl get -o json``) get their line
  numbers: the top-level object and that array are walked member by member, each member
  decoded by the C decoder, so nothing is parsed twice.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from assay.server.inventory.limits import ManifestLimits
from assay.server.inventory.syntax import (
    Document,
    Problem,
    bad_string,
    may_hold_bad_strings,
    quote,
)

_WHITESPACE = re.compile(r"[ \t\n\r]*")


class _Decoder:
    """A JSON decoder that notes the keys an object repeats."""

    def __init__(self) -> None:
        self.duplicates: list[str] = []
        self._json = json.JSONDecoder(object_pairs_hook=self.mapping)

    def mapping(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        mapping = dict(pairs)
        if len(mapping) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    self.duplicates.append(key)
                seen.add(key)
        return mapping

    def value(self, text: str, position: int) -> tuple[Any, int]:
        return self._json.raw_decode(text, position)


def load_json(text: str, limits: ManifestLimits) -> Iterator[Document | Problem]:
    """The one document of a JSON text (nothing but whitespace may follow it)."""
    decoder = _Decoder()
    start = _skip(text, 0)
    try:
        if text.startswith("{", start):
            value, item_positions, end = _top_object(decoder, text, start)
        else:
            (value, end), item_positions = decoder.value(text, start), []
        end = _skip(text, end)
        if end != len(text):
            raise json.JSONDecodeError("Extra data", text, end)
    except json.JSONDecodeError as exc:
        yield Problem(1, exc.lineno, f"does not parse: {exc.msg} (column {exc.colno})")
        return
    except RecursionError:
        message = f"nested deeper than {limits.max_depth} levels (the limit); document skipped"
        yield Problem(1, None, message)
        return
    except ValueError as exc:  # a number with more digits than Python converts
        yield Problem(1, None, f"does not parse: {' '.join(str(exc).split())[:200]}")
        return
    problem = _shape_problem(value, limits, check_strings=may_hold_bad_strings(text.encode()))
    if problem:
        yield Problem(1, None, f"{problem}; document skipped")
        return
    for key in decoder.duplicates:
        yield Problem(1, None, f"duplicate key {quote(key)}; the last value is kept")
    line, item_lines = _lines(text, start, item_positions)
    yield Document(1, line, value, item_lines)


def _skip(text: str, position: int) -> int:
    match = _WHITESPACE.match(text, position)
    return position if match is None else match.end()


def _top_object(decoder: _Decoder, text: str, position: int) -> tuple[Any, list[int], int]:
    """Decode the object at ``position`` member by member; (value, positions of the items
    of its ``items`` array, end)."""
    pairs: list[tuple[str, Any]] = []
    item_positions: list[int] = []
    position = _skip(text, position + 1)
    if text.startswith("}", position):
        return decoder.mapping(pairs), item_positions, position + 1
    while True:
        if not text.startswith('"', position):
            message = "Expecting property name enclosed in double quotes"
            raise json.JSONDecodeError(message, text, position)
        key, position = decoder.value(text, position)
        position = _skip(text, position)
        if not text.startswith(":", position):
            raise json.JSONDecodeError("Expecting ':' delimiter", text, position)
        position = _skip(text, position + 1)
        if key == "items" and text.startswith("[", position):
            value, item_positions, position = _array(decoder, text, position)
        else:
            value, position = decoder.value(text, position)
        pairs.append((key, value))
        position = _skip(text, position)
        if text.startswith(",", position):
            position = _skip(text, position + 1)
        elif text.startswith("}", position):
            return decoder.mapping(pairs), item_positions, position + 1
        else:
            raise json.JSONDecodeError("Expecting ',' delimiter", text, position)


def _array(decoder: _Decoder, text: str, position: int) -> tuple[list[Any], list[int], int]:
    items: list[Any] = []
    positions: list[int] = []
    position = _skip(text, position + 1)
    if text.startswith("]", position):
        return items, positions, position + 1
    while True:
        positions.append(position)
        item, position = decoder.value(text, position)
        items.append(item)
        position = _skip(text, position)
        if text.startswith(",", position):
            position = _skip(text, position + 1)
        elif text.startswith("]", position):
            return items, positions, position + 1
        else:
            raise json.JSONDecodeError("Expecting ',' delimiter", text, position)


def _lines(text: str, start: int, positions: list[int]) -> tuple[int, tuple[int, ...]]:
    """The 1-based lines of offset ``start`` and of each of ``positions`` (ascending)."""
    line = text.count("\n", 0, start) + 1
    lines = []
    current, offset = line, start
    for position in positions:
        current += text.count("\n", offset, position)
        offset = position
        lines.append(current)
    return line, tuple(lines)


def _shape_problem(value: Any, limits: ManifestLimits, *, check_strings: bool) -> str:
    """Why the decoded ``value`` breaks a limit ("" when it does not): nesting, size, and
    (when the text has escapes that could produce them) bad strings."""
    max_depth, max_nodes = limits.max_depth, limits.max_document_nodes
    nodes = 1
    stack: list[tuple[Any, int]] = []
    if isinstance(value, dict | list):
        stack.append((value, 1))
    elif check_strings and isinstance(value, str):
        return bad_string(value)
    while stack:
        container, depth = stack.pop()
        if depth > max_depth:
            return f"nested deeper than {max_depth} levels (the limit)"
        if container.__class__ is dict:
            children: Any = container.values()
            nodes += 2 * len(container)  # keys count, as YAML's do
        else:
            children = container
            nodes += len(container)
        if nodes > max_nodes:
            return f"holds more than {max_nodes:,} values (the limit)"
        if check_strings and container.__class__ is dict:
            problem = next((bad_string(k) for k in container if bad_string(k)), "")
            if problem:
                return problem
        for child in children:
            kind = child.__class__
            if kind is dict or kind is list:
                stack.append((child, depth + 1))
            elif check_strings and kind is str and (problem := bad_string(child)):
                return problem
    return ""
