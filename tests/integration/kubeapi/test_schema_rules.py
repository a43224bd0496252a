"""The structural-schema rules one by one, straight on the double's validator and pruner:
each keyword's message as the API server words it, formats, combinators, ratcheting."""

from __future__ import annotations

from typing import Any

import pytest

from tests.kubeapi.formats import format_matches
from tests.kubeapi.schema import CustomResourceSchema
from tests.kubeapi.schema_validation import validate


def messages(value: Any, schema: dict[str, Any]) -> list[str]:
    return [str(error) for error in validate(value, schema, ("spec", "x"))]


@pytest.mark.parametrize(
    ("schema", "value", "expected"),
    [
        ({"type": "integer"}, 2.0, []),
        (
            {"type": "integer"},
            2.5,
            ['spec.x: Invalid value: "number": spec.x in body must be of type integer: "number"'],
        ),
        (
            {"type": "integer"},
            True,
            ['spec.x: Invalid value: "boolean": spec.x in body must be of type integer: "boolean"'],
        ),
        ({"type": "number"}, 3, []),
        (
            {"type": "string"},
            None,
            ['spec.x: Invalid value: "null": spec.x in body must be of type string: "null"'],
        ),
        ({"type": "string", "nullable": True}, None, []),
        (
            {"type": "number", "minimum": 1, "exclusiveMinimum": True},
            1,
            ["spec.x: Invalid value: 1: spec.x in body should be greater than 1"],
        ),
        (
            {"type": "number", "maximum": 2, "exclusiveMaximum": True},
            2,
            ["spec.x: Invalid value: 2: spec.x in body should be less than 2"],
        ),
        (
            {"type": "integer", "multipleOf": 5},
            12,
            ["spec.x: Invalid value: 12: spec.x in body should be a multiple of 5"],
        ),
        (
            {"type": "array", "minItems": 2},
            [1],
            ["spec.x: Invalid value: 1: spec.x in body should have at least 2 items"],
        ),
        (
            {"type": "array", "maxItems": 1},
            [1, 2],
            ["spec.x: Too many: 2: must have at most 1 items"],
        ),
        ({"type": "array", "uniqueItems": True}, [1, 2, 1], ["spec.x[2]: Duplicate value: 1"]),
        (
            {"type": "array", "x-kubernetes-list-type": "set"},
            ["a", "a"],
            ['spec.x[1]: Duplicate value: "a"'],
        ),
        (
            {"type": "object", "maxProperties": 1},
            {"a": 1, "b": 2},
            ["spec.x: Too many: 2: must have at most 1 items"],
        ),
        (
            {"type": "object", "minProperties": 1},
            {},
            ["spec.x: Invalid value: 0: spec.x in body should have at least 1 properties"],
        ),
        (
            {"type": "string", "maxLength": 1},
            "ab",
            ["spec.x: Too long: may not be more than 1 byte"],
        ),
        (
            {"type": "string", "enum": ["a", 1]},
            "b",
            ['spec.x: Unsupported value: "b": supported values: "a", 1'],
        ),
        (
            {"anyOf": [{"type": "integer"}, {"type": "string"}]},
            1.5,
            [
                "spec.x: Invalid value: 1.5: spec.x in body must validate at least one schema "
                "(anyOf)"
            ],
        ),
        (
            {"oneOf": [{"minimum": 1}, {"maximum": 5}]},
            3,
            [
                "spec.x: Invalid value: 3: spec.x in body must validate one and only one "
                "schema (oneOf)"
            ],
        ),
        (
            {"not": {"type": "string"}},
            "s",
            ['spec.x: Invalid value: "s": spec.x in body must not validate the schema (not)'],
        ),
        (
            {"allOf": [{"minimum": 1}, {"maximum": 5}]},
            9,
            ["spec.x: Invalid value: 9: spec.x in body should be less than or equal to 5"],
        ),
        (
            {"type": "string", "pattern": "^a"},
            7,
            ['spec.x: Invalid value: "integer": spec.x in body must be of type string: "integer"'],
        ),
        ({"pattern": "^a"}, 7, []),  # a pattern applies to strings only
    ],
)
def test_keyword_messages(schema: dict[str, Any], value: Any, expected: list[str]) -> None:
    assert messages(value, schema) == expected


@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [
        (
            "date-time",
            ["2025-01-02T03:04:05Z", "2025-01-02t03:04:05.5+02:00"],
            ["2025-01-02", "2025-02-30T00:00:00Z", "2025-01-02T25:00:00Z", "2025-01-02T03:04:05"],
        ),
        ("date", ["2024-02-29"], ["2023-02-29", "20240229"]),
        ("byte", ["aGVsbG8="], ["not base64!"]),
        ("uuid", ["123e4567-e89b-12d3-a456-426614174000"], ["123e4567"]),
        (
            "uuid4",
            ["123e4567-e89b-42d3-a456-426614174000"],
            ["123e4567-e89b-12d3-a456-426614174000"],
        ),
        ("ipv4", ["10.0.0.1"], ["10.0.0.256", "::1"]),
        ("ipv6", ["::1"], ["10.0.0.1"]),
        ("cidr", ["10.0.0.0/8", "fd00::/8"], ["10.0.0.0/33"]),
        ("hostname", ["a.example.com"], ["-a.example.com", "a_b"]),
        ("mac", ["00:1a:2b:3c:4d:5e"], ["00:1a:2b:3c:4d"]),
        ("no-such-format", ["anything"], []),
    ],
)
def test_formats(name: str, good: list[str], bad: list[str]) -> None:
    assert all(format_matches(name, value) for value in good)
    assert not any(format_matches(name, value) for value in bad)


def test_format_errors_carry_the_value() -> None:
    assert messages("soon", {"type": "string", "format": "date-time"}) == [
        'spec.x: Invalid value: "soon": spec.x in body must be of type date-time: "soon"'
    ]


def test_list_map_keys_must_be_unique() -> None:
    schema = {
        "type": "array",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name", "port"],
        "items": {"type": "object"},
    }
    value = [{"name": "a", "port": 1}, {"name": "a", "port": 2}, {"name": "a", "port": 1, "x": 0}]
    assert messages(value, schema) == ['spec.x[2]: Duplicate value: {"name":"a","port":1}']


SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["spec"],
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {
                "size": {"type": "integer", "minimum": 1},
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"n": {"type": "integer", "default": 0}},
                    },
                },
            },
        },
        "status": {"type": "object", "properties": {"phase": {"enum": ["A", "B"]}}},
    },
}


def test_defaults_reach_array_items_and_null_items_are_typed() -> None:
    obj: dict[str, Any] = {"spec": {"size": 1, "items": [{}, {"n": None}, {"n": 3}]}}
    admission = CustomResourceSchema(SCHEMA).admit(obj)
    assert admission.errors == [] and admission.pruned == []
    assert obj["spec"]["items"] == [{"n": 0}, {"n": 0}, {"n": 3}]


def test_ratcheting_keeps_only_errors_on_changed_values() -> None:
    schema = CustomResourceSchema(SCHEMA)
    old = {"spec": {"items": []}, "status": {"phase": "Z"}}
    # size still missing and status untouched: both unchanged, nothing to report.
    assert schema.admit({"spec": {"items": []}, "status": {"phase": "Z"}}, old).errors == []
    # spec changed, so its missing size counts again; a new bad phase counts too.
    changed = schema.admit({"spec": {"items": [{}]}, "status": {"phase": "Y"}}, old)
    assert [str(e) for e in changed.errors] == [
        "spec.size: Required value",
        'status.phase: Unsupported value: "Y": supported values: "A", "B"',
    ]
    # A status write looks at .status only.
    status_only = schema.admit({"spec": {}, "status": {"phase": "Y"}}, old, status_only=True)
    assert [e.field for e in status_only.errors] == ["status.phase"]
