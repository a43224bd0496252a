"""Every RPC of the server, found from the descriptors, and a way to call any of them.

The fault tests walk :data:`METHODS` (so an RPC added tomorrow is covered without a test
change) and call each with raw bytes through :func:`call`, which returns the status code
and the rich status the server answered with.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2

from assay.v1 import assessment_pb2, workflow_pb2


@dataclass(frozen=True)
class Method:
    descriptor: MethodDescriptor

    @property
    def path(self) -> str:
        return f"/{self.descriptor.containing_service.full_name}/{self.descriptor.name}"

    @property
    def request_descriptor(self) -> Descriptor:
        descriptor: Descriptor = self.descriptor.input_type
        return descriptor

    @property
    def request_type(self) -> type[Message]:
        cls: type[Message] = message_factory.GetMessageClass(self.descriptor.input_type)
        return cls

    def __str__(self) -> str:
        return self.path


def _methods(*files: object, services: tuple[str, ...] = ()) -> list[Method]:
    found: list[Method] = []
    for module in files:
        for service in module.DESCRIPTOR.services_by_name.values():  # type: ignore[attr-defined]
            if services and service.name not in services:
                continue
            found.extend(Method(m) for m in service.methods)
    return found


ASSAY_METHODS = _methods(assessment_pb2, workflow_pb2)
"""Every RPC of Assay's own services."""
METHODS = ASSAY_METHODS + _methods(health_pb2, reflection_pb2)
"""Every RPC the server serves, health and reflection included."""


@dataclass(frozen=True)
class Answer:
    code: grpc.StatusCode
    message: str
    violations: tuple[tuple[str, str], ...]
    trailer_bytes: int


def _identity(data: bytes) -> bytes:
    return data


def call(channel: grpc.Channel, method: Method, body: bytes, *, timeout: float = 10) -> Answer:
    """Send ``body`` as ``method``'s request; the status it ends in (OK for a stream that
    answered a first message)."""
    shape = (method.descriptor.client_streaming, method.descriptor.server_streaming)
    options = {"request_serializer": _identity, "response_deserializer": _identity}
    try:
        if shape == (False, False):
            channel.unary_unary(method.path, **options)(body, timeout=timeout)
        elif shape == (True, False):
            channel.stream_unary(method.path, **options)(iter([body]), timeout=timeout)
        else:
            if shape == (False, True):
                stream = channel.unary_stream(method.path, **options)(body, timeout=timeout)
            else:
                stream = channel.stream_stream(method.path, **options)(
                    iter([body]), timeout=timeout
                )
            with contextlib.suppress(StopIteration):
                next(stream)
            stream.cancel()
        return Answer(grpc.StatusCode.OK, "", (), 0)
    except grpc.RpcError as error:
        return _answer(error)


def _answer(error: grpc.RpcError) -> Answer:
    code: grpc.StatusCode = error.code()
    message: str = error.details() or ""
    violations: list[tuple[str, str]] = []
    size = 0
    for key, value in error.trailing_metadata() or ():
        size += len(key) + len(value)
        if key != "grpc-status-details-bin":
            continue
        rich = status_pb2.Status.FromString(value)
        for detail in rich.details:
            if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                violations += [(v.field, v.description) for v in bad.field_violations]
    return Answer(code, message, tuple(violations), size)


def string_paths(descriptor: Descriptor, prefix: str = "", depth: int = 3) -> Iterator[str]:
    """Dotted paths of the singular and repeated string fields of a message type (maps
    and nesting included, down to ``depth`` messages)."""
    for fd in descriptor.fields:
        path = f"{prefix}{fd.name}"
        if fd.type == FieldDescriptor.TYPE_STRING:
            yield path + ("[]" if fd.is_repeated else "")
        elif fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            if fd.message_type.fields_by_name["value"].type == FieldDescriptor.TYPE_STRING:
                yield path + "{}"
        elif fd.message_type is not None and depth > 0:
            if fd.message_type.full_name.startswith("google.protobuf."):
                continue
            yield from string_paths(fd.message_type, path + ".", depth - 1)


def with_string(request_type: type[Message], path: str, value: str) -> Message:
    """A request whose string at ``path`` (as :func:`string_paths` names it) is ``value``."""
    message = request_type()
    target = message
    *parents, leaf = path.split(".")
    for name in parents:
        target = getattr(target, name)
    if leaf.endswith("{}"):
        getattr(target, leaf[:-2])["key"] = value
    elif leaf.endswith("[]"):
        getattr(target, leaf[:-2]).append(value)
    else:
        setattr(target, leaf, value)
    return message
