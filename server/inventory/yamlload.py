"""Bounded YAML loading: libyaml's event stream built straight into plain Python values.

Called by :mod:`~assay.server.inventory.parse` for each YAML file. PyYAML's own loaders
cannot be bounded: its constructor expands nothing but lets anything that walks the result
expand aliases (a 1 KB "billion laughs" document), keeps the last of duplicate keys
silently, and its composer recurses. So the C parser's events (the pure-Python parser when
libyaml is missing) are consumed here in one loop, which also makes loading about twice as
fast as ``yaml.load_all`` with ``CSafeLoader``. Per document it

- counts values with every alias expanded (an alias adds the size of what it stands for)
  and skips the document past ``max_document_nodes``; aliases share the value they refer
  to, as PyYAML's do, so memory follows the input's size;
- tracks nesting, aliases included, and skips the document past ``max_depth``;
- rejects an alias to a value that contains it (a cycle no JSON tool could walk), unknown
  tags, mapping keys that are collections, and strings holding NUL;
- reports duplicate keys (the last value is kept, as ``kubectl`` without strict validation
  and the API server do) and honours ``<<`` merge keys;
- resolves plain scalars as PyYAML's SafeLoader does (YAML 1.1 booleans, numbers, null),
  except that timestamps stay strings, as Kubernetes reads them.

A skipped document costs a :class:`~assay.server.inventory.syntax.Problem`; the file's
other documents are still read. A syntax error ends the file (libyaml cannot resume).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

from assay.server.inventory.limits import ManifestLimits
from assay.server.inventory.syntax import (
    Document,
    Problem,
    Rejected,
    bad_string,
    may_hold_bad_strings,
    quote,
    type_name,
)

_Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_TAG = "tag:yaml.org,2002:"
_STR, _MAP, _SEQ = _TAG + "str", _TAG + "map", _TAG + "seq"
_SAFE = SafeConstructor()
_BOOLEANS: dict[str, bool] = SafeConstructor.bool_values


def _null(value: str) -> None:
    return None


def _boolean(value: str) -> bool:
    return _BOOLEANS[value.lower()]


def _integer(value: str) -> int:
    return _SAFE.construct_yaml_int(ScalarNode(_TAG + "int", value))


def _float(value: str) -> float:
    return _SAFE.construct_yaml_float(ScalarNode(_TAG + "float", value))


def _binary(value: str) -> bytes:
    return _SAFE.construct_yaml_binary(ScalarNode(_TAG + "binary", value))


def _string(value: str) -> str:
    return value


# Scalar tags this loader builds; any other tag rejects the document.
_CONSTRUCT: dict[str, Callable[[str], Any]] = {
    _STR: _string,
    _TAG + "null": _null,
    _TAG + "bool": _boolean,
    _TAG + "int": _integer,
    _TAG + "float": _float,
    _TAG + "timestamp": _string,
    _TAG + "binary": _binary,
    "!": _string,
}

# PyYAML's implicit resolvers for plain scalars, by first character, keeping only those that
# give a value of another type than string (timestamps, "=" and "<<" stay strings here; a
# "<<" key is recognised where keys are placed).
_IMPLICIT: dict[str, tuple[tuple[Callable[[str], Any], Any], ...]] = {
    first: found
    for first, resolvers in Resolver.yaml_implicit_resolvers.items()
    if first is not None
    and (
        found := tuple(
            (_CONSTRUCT[tag], regexp)
            for tag, regexp in resolvers
            if tag in (_TAG + "null", _TAG + "bool", _TAG + "int", _TAG + "float")
        )
    )
}


class _Merge:
    """The ``<<`` key of a mapping, waiting for the value it merges."""


_MERGE = _Merge()
_NO_KEY = object()


class _Frame:
    """A mapping or sequence being built."""

    __slots__ = ("anchor", "depth", "key", "line", "lines", "merges", "reach", "start", "value")

    def __init__(
        self, value: Any, *, depth: int, line: int, anchor: str | None, start: int
    ) -> None:
        self.value = value
        self.depth = depth
        self.reach = depth  # the deepest nesting inside it so far
        self.line = line
        self.anchor = anchor
        self.start = start  # values counted before this one
        self.key: Any = _NO_KEY
        self.merges: list[Any] = []
        self.lines: list[int] | None = None  # item lines, for a List's ``items``


def load_yaml(data: bytes | str, limits: ManifestLimits) -> Iterator[Document | Problem]:
    """The documents of one YAML stream, and the problems found in it, in file order.

    Empty documents are left out; past ``limits.max_documents_per_file`` documents the rest
    of the stream is not read.
    """
    check_strings = may_hold_bad_strings(data if isinstance(data, bytes) else data.encode())
    loader = _Loader(data)
    number = 0
    try:
        get = loader.get_event
        get()  # StreamStartEvent
        while get().__class__ is not StreamEndEvent:  # a DocumentStartEvent
            number += 1
            if number > limits.max_documents_per_file:
                yield Problem(
                    number,
                    None,
                    f"more than {limits.max_documents_per_file:,} documents in one file (the "
                    "limit); the rest of the file is not read",
                )
                return
            builder = _Builder(get, limits, check_strings=check_strings)
            try:
                line, value = builder.build()
            except Rejected as rejected:
                yield from builder.warnings(number)
                yield Problem(number, rejected.line, f"{rejected.message}; document skipped")
                builder.skip_document()
                continue
            yield from builder.warnings(number)
            if value is not None:
                yield Document(number, line, value, builder.item_lines)
    except yaml.YAMLError as exc:
        yield _syntax_problem(exc, max(number, 1))
    finally:
        loader.dispose()


def _syntax_problem(exc: yaml.YAMLError, number: int) -> Problem:
    mark = getattr(exc, "problem_mark", None)
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem:
        text = " ".join(part for part in (exc.context, exc.problem) if part)
        if mark is not None:
            text += f" (column {mark.column + 1})"
    else:
        text = " ".join(str(exc).split())
    return Problem(number, None if mark is None else mark.line + 1, f"does not parse: {text}")


class _Builder:
    """Builds one document from the events after its DocumentStartEvent."""

    def __init__(
        self, get: Callable[[], Any], limits: ManifestLimits, *, check_strings: bool
    ) -> None:
        self._get = get
        self._max_depth = limits.max_depth
        self._max_nodes = limits.max_document_nodes
        self._check_strings = check_strings
        self._duplicates: list[tuple[int, Any]] = []
        self._done = False
        self._root: Any = None
        self._root_line = 1
        self.item_lines: tuple[int, ...] = ()

    def warnings(self, number: int) -> Iterator[Problem]:
        for line, key in self._duplicates:
            yield Problem(number, line, f"duplicate key {quote(key)}; the last value is kept")

    def skip_document(self) -> None:
        """Consume the rest of a rejected document's events."""
        if not self._done:
            while self._get().__class__ is not DocumentEndEvent:
                pass

    def build(self) -> tuple[int, Any]:
        """(line, value) of the document; :class:`Rejected` when it breaks a rule."""
        # One flat loop over the events, locals for attributes: the hot path of every run.
        get, max_depth, max_nodes = self._get, self._max_depth, self._max_nodes
        implicit_resolvers, check_strings = _IMPLICIT, self._check_strings
        stack: list[_Frame] = []
        anchors: dict[str, tuple[Any, int, int]] = {}  # value, values counted, nesting
        nodes = 0
        while True:
            event = get()
            kind = event.__class__
            if kind is ScalarEvent:
                nodes += 1
                value = event.value
                tag = event.tag
                if tag is None:
                    if event.implicit[0]:
                        resolvers = implicit_resolvers.get(value[:1])
                        if resolvers is not None:
                            value = _resolve_plain(value, resolvers, event)
                else:
                    value = _tagged(tag, value, event)
                if check_strings and value.__class__ is str and (problem := bad_string(value)):
                    raise Rejected(problem, event.start_mark.line + 1)
                if event.anchor is not None:
                    anchors[event.anchor] = (value, 1, 0)
                line = 0  # looked up only when needed: marks are slow to read
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                depth = len(stack) + 1
                line = event.start_mark.line + 1
                if depth > max_depth:
                    raise Rejected(f"nested deeper than {max_depth} levels (the limit)", line)
                if event.tag not in (None, "!", _MAP if kind is MappingStartEvent else _SEQ):
                    raise Rejected(f"unsupported tag {quote(event.tag)}", line)
                frame = _Frame(
                    {} if kind is MappingStartEvent else [],
                    depth=depth,
                    line=line,
                    anchor=event.anchor,
                    start=nodes,
                )
                nodes += 1
                if stack:
                    parent = stack[-1]
                    if parent.lines is not None:
                        parent.lines.append(line)
                    elif depth == 2 and kind is SequenceStartEvent and parent.key == "items":
                        frame.lines = []
                stack.append(frame)
                continue
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                frame = stack.pop()
                value = _merged(frame) if frame.merges else frame.value
                line = frame.line
                if nodes > max_nodes:
                    raise Rejected(self._too_many(), line)
                if frame.anchor is not None:
                    height = frame.reach - frame.depth + 1
                    anchors[frame.anchor] = (value, nodes - frame.start, height)
                if frame.lines is not None:
                    self.item_lines = tuple(frame.lines)
                if stack and frame.reach > stack[-1].reach:
                    stack[-1].reach = frame.reach
            elif kind is AliasEvent:
                line = event.start_mark.line + 1
                value, size, height = self._resolve_alias(event.anchor, anchors, stack, line)
                nodes += size
                if nodes > max_nodes:
                    raise Rejected(self._too_many(), line)
                reach = len(stack) + height
                if reach > max_depth:
                    raise Rejected(f"nested deeper than {max_depth} levels (the limit)", line)
                if stack:
                    top = stack[-1]
                    if reach > top.reach:
                        top.reach = reach
                    if top.lines is not None:
                        top.lines.append(line)
            elif kind is DocumentEndEvent:
                self._done = True
                return self._root_line, self._root
            else:  # pragma: no cover - libyaml sends no other event inside a document
                raise Rejected(f"unexpected {kind.__name__}", None)

            if not stack:
                self._root = value
                self._root_line = line or event.start_mark.line + 1
                continue
            top = stack[-1]
            if top.value.__class__ is list:
                if top.lines is not None and kind is ScalarEvent:
                    top.lines.append(event.start_mark.line + 1)
                top.value.append(value)
            elif top.key is _NO_KEY:
                if value.__class__ is dict or value.__class__ is list:
                    raise Rejected(
                        f"a mapping key is a {type_name(value)}; keys are strings",
                        line or event.start_mark.line + 1,
                    )
                if (
                    value == "<<"
                    and kind is ScalarEvent
                    and event.tag is None
                    and event.implicit[0]
                ):
                    value = _MERGE
                elif value in top.value:
                    self._duplicates.append((line or event.start_mark.line + 1, value))
                top.key = value
            else:
                if top.key is _MERGE:
                    top.merges.append(value)
                else:
                    top.value[top.key] = value
                top.key = _NO_KEY

    @staticmethod
    def _resolve_alias(
        anchor: str, anchors: dict[str, tuple[Any, int, int]], stack: list[_Frame], line: int
    ) -> tuple[Any, int, int]:
        entry = anchors.get(anchor)
        if entry is not None:
            return entry
        name = "*" + quote(anchor)[1:-1]
        if any(frame.anchor == anchor for frame in stack):
            raise Rejected(f"alias {name} refers to a value that contains it", line)
        raise Rejected(f"alias {name} is not defined", line)

    def _too_many(self) -> str:
        return (
            f"stands for more than {self._max_nodes:,} values with its aliases expanded (the limit)"
        )


def _resolve_plain(
    value: str, resolvers: tuple[tuple[Callable[[str], Any], Any], ...], event: Any
) -> Any:
    for make, regexp in resolvers:
        if regexp.match(value):
            try:
                return make(value)
            except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
                raise Rejected(
                    f"{quote(value)} is too long a number", event.start_mark.line + 1
                ) from None
    return value


def _tagged(tag: str, value: str, event: Any) -> Any:
    make = _CONSTRUCT.get(tag)
    if make is None:
        raise Rejected(f"unsupported tag {quote(tag)}", event.start_mark.line + 1)
    try:
        return make(value)
    except (ValueError, KeyError, TypeError, ConstructorError):
        raise Rejected(
            f"{quote(value)} is not a valid {tag.removeprefix(_TAG)}", event.start_mark.line + 1
        ) from None


def _merged(frame: _Frame) -> dict[Any, Any]:
    """The mapping with its ``<<`` merges applied: explicit keys win, then the merged
    mappings in the order given (YAML's merge-key rule)."""
    merged: dict[Any, Any] = {}
    for value in frame.merges:
        sources = value if isinstance(value, list) else [value]
        for source in sources:
            if not isinstance(source, dict):
                raise Rejected(
                    f"'<<' merges a {type_name(source)}; it takes a mapping or a list of mappings",
                    frame.line,
                )
            for key, item in source.items():
                merged.setdefault(key, item)
    merged.update(frame.value)
    return merged
