"""Edge cases of the double's RFC 6902/7386 and selector implementations, without HTTP
(the HTTP behaviour is covered through the client in test_updates/test_selectors)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.kubeapi.patch import PatchError, PatchTestFailed, apply_json_patch, merge_patch
from tests.kubeapi.selectors import parse_field_selector, parse_label_selector
from tests.kubeapi.status import ApiError


@pytest.mark.parametrize(
    ("document", "operations", "expected"),
    [
        ({"a": [1, 2]}, [{"op": "add", "path": "/a/-", "value": 3}], {"a": [1, 2, 3]}),
        ({"a": [1, 2]}, [{"op": "add", "path": "/a/0", "value": 0}], {"a": [0, 1, 2]}),
        ({"a": [1, 2]}, [{"op": "remove", "path": "/a/0"}], {"a": [2]}),
        ({"a": [1, 2]}, [{"op": "move", "from": "/a/0", "path": "/a/1"}], {"a": [2, 1]}),
        (
            {"a~b": {"c/d": 1}},
            [{"op": "replace", "path": "/a~0b/c~1d", "value": 2}],
            {"a~b": {"c/d": 2}},
        ),
        ({"a": 1}, [{"op": "replace", "path": "", "value": {"b": 2}}], {"b": 2}),
        ({"n": 1}, [{"op": "test", "path": "/n", "value": 1.0}], {"n": 1}),
    ],
)
def test_json_patch(document: Any, operations: list[Any], expected: Any) -> None:
    assert apply_json_patch(document, operations) == expected


@pytest.mark.parametrize(
    ("document", "operation", "error"),
    [
        ({"flag": True}, {"op": "test", "path": "/flag", "value": 1}, PatchTestFailed),
        ({"a": {}}, {"op": "remove", "path": "/a/missing"}, PatchError),
        ({"a": [1]}, {"op": "add", "path": "/a/5", "value": 1}, PatchError),
        ({"a": [1]}, {"op": "replace", "path": "/a/01", "value": 1}, PatchError),
        ({"a": {}}, {"op": "move", "from": "/a", "path": "/a/b"}, PatchError),
        ({}, {"op": "frobnicate", "path": "/x"}, PatchError),
        ({}, {"op": "add", "path": "no-slash", "value": 1}, PatchError),
    ],
)
def test_json_patch_errors(document: Any, operation: Any, error: type[Exception]) -> None:
    original = copy.deepcopy(document)
    with pytest.raises(error):
        apply_json_patch(document, [operation])
    assert document == original  # a failed patch leaves its input untouched


def test_merge_patch_is_rfc7386() -> None:
    target = {"a": "b", "c": {"d": "e", "f": "g"}, "list": [1, 2]}
    patch = {"a": "z", "c": {"f": None}, "list": [3], "new": {"x": None}}
    assert merge_patch(target, patch) == {"a": "z", "c": {"d": "e"}, "list": [3], "new": {}}
    assert target["c"] == {"d": "e", "f": "g"}


@pytest.mark.parametrize(
    "selector", ["app in ()", "a=b,,c=d", "bad key=x", "x=not valid!", "n > abc", "a b c"]
)
def test_malformed_label_selectors(selector: str) -> None:
    with pytest.raises(ApiError) as error:
        parse_label_selector(selector)
    assert error.value.code == 400


def test_label_selector_keys_with_prefixes_and_whitespace() -> None:
    selector = parse_label_selector(" app.kubernetes.io/name in (web , api) , !example.com/skip ")
    labels = {"app.kubernetes.io/name": "api"}
    assert selector.matches({"metadata": {"labels": labels}})
    assert not selector.matches({"metadata": {"labels": {**labels, "example.com/skip": ""}}})


def test_field_selector_values_can_escape_separators() -> None:
    selector = parse_field_selector(r"metadata.name=a\,b", lambda _: True)
    assert selector.matches({"metadata": {"name": "a,b"}})
    assert not selector.matches({"metadata": {"name": "a"}})
