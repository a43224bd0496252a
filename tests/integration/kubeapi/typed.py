"""Typed views of what the official clients hand the double's tests.

The clients type custom objects as `object` (they are raw JSON), every model field as
optional, and request bodies as model classes although a plain manifest dict is sent as
it is. These helpers state each of those facts once, checked at run time where they can
be, so the tests read like the wire format they exercise.
"""

from __future__ import annotations

import json
from typing import Protocol, TypeVar, cast

from tests.kubeapi import JsonObject

M = TypeVar("M")
T = TypeVar("T")


def json_object(value: object) -> JsonObject:
    """A custom object (or any raw JSON answer) as the dict it is."""
    assert isinstance(value, dict), f"expected a JSON object, got {type(value).__name__}"
    return cast(JsonObject, value)


class WithBody(Protocol):
    """An ApiException of the sync or the aio client."""

    @property
    def body(self) -> object: ...


def status_of(error: WithBody) -> JsonObject:
    """The Status body of an ApiException."""
    body = error.body
    assert isinstance(body, str | bytes), "the error carries no body"
    return json_object(json.loads(body))


def as_body(manifest: JsonObject, model: type[M]) -> M:
    """A manifest passed where the client's signature names a model: the client serialises
    a dict body unchanged, which is what these tests want on the wire."""
    del model  # names the type only
    return cast(M, manifest)


class Versioned(Protocol):
    """ObjectMeta or ListMeta of either client."""

    @property
    def resource_version(self) -> str | None: ...


def version(meta: Versioned | None) -> int:
    """metadata.resourceVersion, a number in the double (opaque on a real server)."""
    assert meta is not None and meta.resource_version is not None
    return int(meta.resource_version)


def present(value: T | None) -> T:
    """A field the server always sets (the client types every field optional)."""
    assert value is not None
    return value
