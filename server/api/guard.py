"""What every request must be before a servicer sees it, checked once for every RPC.

:class:`RequestGuard` (the innermost layer of the edge: authentication comes first)
wraps each method handler, whatever built it (generated ``add_*_to_server``, the
hand-built AssessmentService registration, health, reflection):

- its request deserializer never raises: bytes that are not the method's message (or hold
  invalid UTF-8 in a string) become :class:`Malformed`, answered INVALID_ARGUMENT;
- every string of the request, however deep (nested messages, repeated fields, map keys
  and values), is walked through the message's descriptors: a NUL character (no database
  stores one) or a string longer than :data:`MAX_STRING_CHARS` is INVALID_ARGUMENT naming
  the field by its path (``query.run_id``, ``labels["team"]``, ``pillars[2]``);
- a streamed request is checked message by message as the servicer reads it.

So a new RPC or field is covered the day it is added. Field-specific rules (ids at most
253 characters, Kubernetes names) stay with the servicers' :class:`~.validation.Validator`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from assay.server.api.interceptors import Wrapping
from assay.server.api.validation import shown
from assay.server.core.errors import FieldViolation, InvalidArgument

# Bigger than any name, id, image or message a request carries; a bound on what one field
# may make the server hold and echo.
MAX_STRING_CHARS = 64 * 1024
# At most this many violations reported for one request (each a line of the status).
MAX_VIOLATIONS = 20

_STRING = FieldDescriptor.TYPE_STRING
_MESSAGE = FieldDescriptor.TYPE_MESSAGE


@dataclass(frozen=True)
class Malformed:
    """Stands for a request whose bytes could not be parsed (the deserializer's error)."""

    type_name: str
    error: str


def tolerant(deserialize: Callable[[bytes], Any], type_name: str) -> Callable[[bytes], Any]:
    """``deserialize`` that returns :class:`Malformed` instead of raising."""

    def parse(data: bytes) -> Any:
        try:
            return deserialize(data)
        except Exception as exc:  # whatever a parser raises, the bytes are at fault
            return Malformed(type_name, str(exc) or type(exc).__name__)

    return parse


def string_violations(message: Message, prefix: str = "") -> Iterator[FieldViolation]:
    """A violation for every string of ``message`` (recursively) with a NUL or too long."""
    for fd, value in message.ListFields():
        path = f"{prefix}{fd.name}"
        if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            key_fd, value_fd = (
                fd.message_type.fields_by_name["key"],
                fd.message_type.fields_by_name["value"],
            )
            for key, item in value.items():
                here = f"{path}[{shown(str(key), 40)}]"
                if key_fd.type == _STRING:
                    yield from _string(here, key)
                if value_fd.type == _STRING:
                    yield from _string(here, item)
                elif value_fd.type == _MESSAGE:
                    yield from string_violations(item, here + ".")
        elif fd.type == _STRING:
            if fd.is_repeated:
                for index, item in enumerate(value):
                    yield from _string(f"{path}[{index}]", item)
            else:
                yield from _string(path, value)
        elif fd.type == _MESSAGE:
            if fd.is_repeated:
                for index, item in enumerate(value):
                    yield from string_violations(item, f"{path}[{index}].")
            else:
                yield from string_violations(value, path + ".")


def _string(path: str, value: str) -> Iterator[FieldViolation]:
    if len(value) > MAX_STRING_CHARS:
        yield FieldViolation(path, f"is longer than {MAX_STRING_CHARS} characters")
    elif "\x00" in value:
        yield FieldViolation(path, "contains a NUL character")


def check_request(request: Any) -> Any:
    """``request`` itself, or InvalidArgument if it is malformed or has a bad string."""
    if isinstance(request, Malformed):
        raise InvalidArgument(
            FieldViolation("", f"not a valid {request.type_name}: {shown(request.error, 120)}")
        )
    if isinstance(request, Message):
        violations = []
        for violation in string_violations(request):
            violations.append(violation)
            if len(violations) == MAX_VIOLATIONS:
                break
        if violations:
            raise InvalidArgument(violations)
    return request


async def _checked_stream(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
    async for request in requests:
        yield check_request(request)


class RequestGuard:
    """Malformed bytes, NULs and oversized strings: INVALID_ARGUMENT on every RPC."""

    def wrapping(self, handler: grpc.RpcMethodHandler, method: str) -> Wrapping | None:
        if handler.request_deserializer is None:
            return None
        return Wrapping(
            request=_checked_stream if handler.request_streaming else check_request,
            request_deserializer=tolerant(
                handler.request_deserializer, _request_type_name(handler, method)
            ),
        )


def _request_type_name(handler: grpc.RpcMethodHandler, method: str) -> str:
    """The request message's name, from the deserializer when it is ``Message.FromString``."""
    owner = getattr(handler.request_deserializer, "__self__", None)
    descriptor = getattr(owner, "DESCRIPTOR", None)
    if descriptor is not None:
        return str(descriptor.full_name)
    return f"request of {method}"
