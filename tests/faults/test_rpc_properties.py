"""Property: whatever fields a request carries, no RPC answers UNKNOWN or INTERNAL.

Requests are generated from each method's request descriptor (tests/faults/rpcs.py lists
the methods), so a new RPC or field is exercised the day it appears: strings with NULs,
control characters, surrogates-free unicode and lengths past every limit; integers at and
beyond their ranges; enum numbers the proto does not define; nested messages, repeated
fields and maps. Runs on SQLite and PostgreSQL. ``max_examples`` is modest by default and
ten times more under the ``heavy`` marker.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.faults.rpcs import ASSAY_METHODS, Method, call
from tests.integration.api.server_fixtures import ServerThread

NEVER = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}

_INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}

# Long strings are drawn as (length, letter) and built afterwards: a strategy's repr
# (which Hypothesis puts in the note of any exception raised while drawing, such as a
# rejected float) must stay small however many string fields a request has.
_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
    st.sampled_from(["", " ", "\x00", "run-1", "default", "../..", "%2F"]),
    st.builds(
        lambda n, s: s * n,
        st.one_of(st.sampled_from([63, 64, 253, 254, 3000]), st.integers(1, 70_000)),
        st.sampled_from(["a", "x", "\x00", "é"]),
    ),
)


def _scalar(fd: FieldDescriptor) -> st.SearchStrategy[Any]:
    if fd.type == FieldDescriptor.TYPE_STRING:
        return _TEXT
    if fd.type == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=200)
    if fd.type == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if fd.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.floats(allow_nan=True, allow_infinity=True, width=32)
    if fd.type == FieldDescriptor.TYPE_ENUM:
        low, high = -(2**31), 2**31 - 1
        assert fd.enum_type is not None
        return st.one_of(
            st.sampled_from([v.number for v in fd.enum_type.values]), st.integers(low, high)
        )
    low, high = _INT_RANGES[fd.type]
    edges = [low, high, 0, -1 if low < 0 else 1, 1, 2]
    return st.one_of(st.sampled_from(edges), st.integers(low, high))


def messages(descriptor: Descriptor, depth: int = 3) -> st.SearchStrategy[dict[str, Any]]:
    """Field values for ``descriptor`` (a dict for ``Message(**values)``-like filling)."""
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for fd in descriptor.fields:
        if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            key = _scalar(fd.message_type.fields_by_name["key"])
            value_fd = fd.message_type.fields_by_name["value"]
            if value_fd.message_type is not None:
                continue
            fields[fd.name] = st.dictionaries(key, _scalar(value_fd), max_size=3)
        elif fd.message_type is not None:
            if depth == 0:
                continue
            sub = messages(fd.message_type, depth - 1)
            fields[fd.name] = st.lists(sub, max_size=2) if fd.is_repeated else sub
        else:
            value = _scalar(fd)
            fields[fd.name] = st.lists(value, max_size=4) if fd.is_repeated else value
    return st.fixed_dictionaries({}, optional=fields)


def fill(message: Message, values: dict[str, Any]) -> Message:
    """``message`` with ``values`` set (oneofs: the last one set wins, as on the wire)."""
    for name, value in values.items():
        fd = message.DESCRIPTOR.fields_by_name[name]
        target = getattr(message, name) if fd.type == FieldDescriptor.TYPE_MESSAGE else None
        if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            target.update(value)  # type: ignore[union-attr]
        elif fd.type == FieldDescriptor.TYPE_MESSAGE and fd.is_repeated:
            for item in value:
                fill(target.add(), item)  # type: ignore[union-attr]
        elif fd.message_type is not None:
            if fd.message_type.full_name == "google.protobuf.Timestamp":
                value = {k: v for k, v in value.items() if k != "nanos" or 0 <= v < 1_000_000_000}
            fill(target, value)  # type: ignore[arg-type]
            if not value:
                target.SetInParent()  # type: ignore[union-attr]
        elif fd.is_repeated:
            getattr(message, name).extend(value)
        else:
            setattr(message, name, value)
    return message


def _encode(method: Method, values: dict[str, Any]) -> bytes:
    try:
        return fill(method.request_type(), values).SerializeToString()
    except (ValueError, TypeError):
        # A value protobuf itself refuses to encode (a float for an int32 field does not
        # occur; an out-of-range Timestamp can): send the encodable part.
        return b""


@pytest.fixture
def channel(assay_server: ServerThread) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(assay_server.target) as opened:
        yield opened


def _property(channel: grpc.Channel, method: Method, examples: int) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(values=messages(method.request_descriptor))
    def never_unknown_nor_internal(values: dict[str, Any]) -> None:
        answer = call(channel, method, _encode(method, values), timeout=10)
        assert answer.code not in NEVER, (method.path, values, answer)
        assert len(answer.message) <= 1000

    never_unknown_nor_internal()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("method", ASSAY_METHODS, ids=str)
def test_no_request_gets_unknown_or_internal(channel: grpc.Channel, method: Method) -> None:
    _property(channel, method, examples=12)


@pytest.mark.heavy
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("method", ASSAY_METHODS, ids=str)
def test_no_request_gets_unknown_or_internal_at_length(
    channel: grpc.Channel, method: Method
) -> None:
    _property(channel, method, examples=150)


@pytest.mark.parametrize("method", ASSAY_METHODS, ids=str)
def test_request_strategies_have_a_small_repr(method: Method) -> None:
    # Hypothesis warns (an error here) when a repr passes 30,000 characters, and it writes
    # the strategy's repr into any exception raised mid-draw: a large one fails a run at
    # random, on whichever example first rejects a value.
    assert len(repr(messages(method.request_descriptor))) < 10_000
