"""Label and field selectors with the syntax and matching rules of the API server.

Used by list, watch and deletecollection requests (`labelSelector=`, `fieldSelector=`) and
by the test helpers' `list_objects(label_selector=...)`. Parse errors raise ApiError 400,
which is what a real API server answers for a malformed selector.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .jsonutil import JsonObject, get_path
from .status import bad_request

_DNS_SUBDOMAIN = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*"
_NAME = r"[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?"
LABEL_KEY = re.compile(rf"^(?:({_DNS_SUBDOMAIN})/)?({_NAME})$")
LABEL_VALUE = re.compile(rf"^(?:{_NAME})?$")

_NOT_EXISTS = re.compile(r"^!\s*(\S+)$")
_SET_OP = re.compile(r"^(\S+)\s+(in|notin)\s*\((.*)\)$")
_COMPARE = re.compile(r"^([^\s=!<>]+)\s*(==|=|!=|<|>)\s*(\S*)$")


def valid_label_key(key: str) -> bool:
    match = LABEL_KEY.match(key)
    if match is None:
        return False
    prefix, name = match.groups()
    return len(name) <= 63 and (prefix is None or len(prefix) <= 253)


def valid_label_value(value: str) -> bool:
    return len(value) <= 63 and LABEL_VALUE.match(value) is not None


@dataclass(frozen=True)
class Requirement:
    """One comma-separated term of a label selector."""

    key: str
    operator: str  # exists, !, =, !=, in, notin, <, >
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key, "")
        if self.operator == "exists":
            return present
        if self.operator == "!":
            return not present
        if self.operator in ("=", "in"):
            return present and value in self.values
        if self.operator in ("!=", "notin"):
            # Absent keys satisfy negative requirements, as in the API server.
            return not present or value not in self.values
        (bound,) = self.values
        if not present or not _is_int(value):
            return False
        return int(value) > int(bound) if self.operator == ">" else int(value) < int(bound)


@dataclass(frozen=True)
class LabelSelector:
    requirements: tuple[Requirement, ...] = ()

    def matches(self, obj: JsonObject) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(r.matches(labels) for r in self.requirements)


def _is_int(text: str) -> bool:
    return re.fullmatch(r"-?\d+", text) is not None


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside an `in (...)` value list."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts


def _checked_key(key: str, selector: str) -> str:
    if not valid_label_key(key):
        raise bad_request(f"unable to parse requirement: invalid label key {key!r} in {selector!r}")
    return key


def _checked_values(values: list[str], selector: str) -> frozenset[str]:
    for value in values:
        if not valid_label_value(value):
            raise bad_request(f"unable to parse requirement: invalid label value {value!r}")
    return frozenset(values)


def _parse_requirement(term: str, selector: str) -> Requirement:
    if match := _NOT_EXISTS.match(term):
        return Requirement(_checked_key(match[1], selector), "!")
    if match := _SET_OP.match(term):
        values = [v.strip() for v in match[3].split(",")]
        if values == [""]:
            raise bad_request(
                f"unable to parse requirement: for 'in', 'notin' operators, "
                f"values set can't be empty in {selector!r}"
            )
        return Requirement(
            _checked_key(match[1], selector), match[2], _checked_values(values, selector)
        )
    if match := _COMPARE.match(term):
        key, operator, value = match[1], match[2], match[3]
        if operator in ("<", ">") and not _is_int(value):
            raise bad_request(f"unable to parse requirement: {value!r} is not an integer")
        operator = "=" if operator == "==" else operator
        return Requirement(
            _checked_key(key, selector), operator, _checked_values([value], selector)
        )
    if re.fullmatch(r"\S+", term):
        return Requirement(_checked_key(term, selector), "exists")
    raise bad_request(f"unable to parse requirement: {term!r} in selector {selector!r}")


def parse_label_selector(selector: str | None) -> LabelSelector:
    if selector is None or not selector.strip():
        return LabelSelector()
    terms = [t.strip() for t in _split_top_level(selector)]
    if any(not t for t in terms):
        raise bad_request(f"unable to parse requirement: empty term in selector {selector!r}")
    return LabelSelector(tuple(_parse_requirement(t, selector) for t in terms))


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    negate: bool
    value: str

    def matches(self, obj: JsonObject) -> bool:
        equal = field_value(obj, self.field) == self.value
        return not equal if self.negate else equal


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, obj: JsonObject) -> bool:
        return all(r.matches(obj) for r in self.requirements)


def field_value(obj: JsonObject, path: str) -> str:
    """The string form the API server compares field selectors against."""
    value = get_path(obj, path)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _unescape(text: str) -> str:
    """Undo the backslash escaping clients apply to `,`, `=` and `\\` inside values."""
    return re.sub(r"\\(.)", r"\1", text)


_FIELD_TERM = re.compile(r"^([^=!]+?)\s*(==|=|!=)\s*(.*)$", re.S)


def parse_field_selector(selector: str | None, supported: Callable[[str], bool]) -> FieldSelector:
    """Parse `a=b,c!=d`; `supported` rejects labels the resource does not index (400)."""
    if selector is None or not selector.strip():
        return FieldSelector()
    requirements = []
    # Escaped commas and operators (`\,`, `\=`) belong to values; undo escapes per term.
    for term in _split_escaped_commas(selector):
        match = _FIELD_TERM.match(term.strip())
        if match is None:
            raise bad_request(f"invalid selector: {selector!r}; can't understand {term!r}")
        label, operator, raw_value = match[1].strip(), match[2], match[3]
        if not supported(label):
            raise bad_request(f'field label not supported: "{label}"')
        value = _unescape(raw_value)
        requirements.append(FieldRequirement(label, operator == "!=", value))
    return FieldSelector(tuple(requirements))


def _split_escaped_commas(text: str) -> list[str]:
    parts, start, index = [], 0, 0
    while index < len(text):
        if text[index] == "\\":
            index += 2
            continue
        if text[index] == ",":
            parts.append(text[start:index])
            start = index + 1
        index += 1
    parts.append(text[start:])
    return parts
