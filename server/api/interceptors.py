"""The gRPC edge's one interceptor, and two of its layers: error mapping and RPC metrics.

Every concern of the edge is a :class:`Layer`: it says once per method what it adds to the
method's handler (a context the call runs in, a check of the request, a deserializer).
:class:`EdgeInterceptor` composes the layers into one wrapped handler per method, so a call
goes through one interceptor and one wrapper whatever the number of layers, and a stream's
message through one async generator (grpc.aio calls every interceptor for every call, and a
wrapper per layer cost a streamed message a generator step per layer).

``create_grpc_server`` in ``server.api.server`` installs the layers outermost first: errors,
metrics, authentication (``server.api.auth``), then the request guard
(``server.api.guard``), so a refused call is counted and mapped like any other. Domain
errors (``server.core.errors``) become gRPC statuses here and nowhere else; an unexpected
exception becomes INTERNAL (logged with its traceback), never a bare UNKNOWN.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from types import TracebackType
from typing import Any, Protocol

import grpc
from google.rpc import code_pb2, error_details_pb2, status_pb2
from prometheus_client import CollectorRegistry, Counter, Histogram

from assay.server.core.errors import (
    Aborted,
    AlreadyExists,
    AssayError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)

log = logging.getLogger(__name__)

Continuation = Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]]
Behaviour = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]
"""A coroutine behaviour: the request (or request iterator) and the context."""
StreamBehaviour = Callable[[Any, grpc.aio.ServicerContext], AsyncIterator[Any]]

_CODES: list[tuple[type[AssayError], grpc.StatusCode]] = [
    (InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
    (Aborted, grpc.StatusCode.ABORTED),
    (FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
    (Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
    (PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (ResourceExhausted, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (Unavailable, grpc.StatusCode.UNAVAILABLE),
]


# Bounds of what a status carries (the message travels twice: grpc-message and the rich
# status), far below gRPC's 8 KiB metadata limit whatever a value or an API server says.
MAX_MESSAGE_CHARS = 1000
MAX_DETAIL_CHARS = 300
MAX_FIELD_VIOLATIONS = 20


def _bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def status_for(error: AssayError) -> tuple[grpc.StatusCode, str, tuple[tuple[str, bytes], ...]]:
    """The gRPC code, message and rich-status trailer for a domain error."""
    code = next((c for kind, c in _CODES if isinstance(error, kind)), grpc.StatusCode.INTERNAL)
    message = _bounded(str(error), MAX_MESSAGE_CHARS)
    rich = status_pb2.Status(code=code.value[0], message=message)
    if isinstance(error, InvalidArgument):
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=_bounded(v.field, MAX_DETAIL_CHARS),
                    description=_bounded(v.description, MAX_DETAIL_CHARS),
                )
                for v in error.violations[:MAX_FIELD_VIOLATIONS]
            ]
        )
        rich.details.add().Pack(bad_request)
    elif isinstance(error, NotFound):
        rich.details.add().Pack(
            error_details_pb2.ResourceInfo(
                resource_type=_bounded(error.kind, MAX_DETAIL_CHARS),
                resource_name=_bounded(error.ident, MAX_DETAIL_CHARS),
            )
        )
    elif isinstance(error, ResourceExhausted) and error.retry_after_s is not None:
        retry = error_details_pb2.RetryInfo()
        retry.retry_delay.FromTimedelta(timedelta(seconds=error.retry_after_s))
        rich.details.add().Pack(retry)
    return code, message, (("grpc-status-details-bin", rich.SerializeToString()),)


async def _abort_for(exc: Exception, context: grpc.aio.ServicerContext, method: str) -> None:
    if isinstance(exc, AssayError):
        code, message, trailer = status_for(exc)
        if code is grpc.StatusCode.INTERNAL:
            log.error("unmapped domain error in %s", method, exc_info=exc)
        await context.abort(code, message, trailing_metadata=trailer)
    if isinstance(exc, NotImplementedError):  # a generated servicer base (health List)
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{method} is not implemented")
    log.error("unhandled exception in %s", method, exc_info=exc)
    rich = status_pb2.Status(code=code_pb2.INTERNAL, message="internal error; see server log")
    await context.abort(
        grpc.StatusCode.INTERNAL,
        rich.message,
        trailing_metadata=(("grpc-status-details-bin", rich.SerializeToString()),),
    )


class WrappedHandlers:
    """Wrapped handlers kept per method: grpc.aio asks the interceptors for every call,
    and wrapping anew each time (a handler object, four closures) is per-call waste."""

    def __init__(
        self,
        wrap: Callable[[grpc.RpcMethodHandler, str], grpc.RpcMethodHandler],
    ) -> None:
        self._wrap = wrap
        self._known: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    def get(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        """``handler`` of ``method`` wrapped, the same object for as long as ``handler`` is."""
        known = self._known.get(method)
        if known is not None and known[0] is handler:
            return known[1]
        wrapped = self._wrap(handler, method)
        self._known[method] = (handler, wrapped)
        return wrapped


Around = Callable[[grpc.aio.ServicerContext], AbstractAsyncContextManager[None]]
"""The context one call of a method runs in (given the call's servicer context)."""


@dataclass(frozen=True)
class Wrapping:
    """What a layer adds to one method's handler; each part optional."""

    around: Around | None = None
    # Applied to the request (to the request iterator of a client stream) inside ``around``.
    request: Callable[[Any], Any] | None = None
    # Replaces the handler's deserializer.
    request_deserializer: Callable[[bytes], Any] | None = None


class Layer(Protocol):
    def wrapping(self, handler: grpc.RpcMethodHandler, method: str) -> Wrapping | None:
        """What the layer adds to ``handler`` of ``method`` (None: nothing); asked once per
        method and handler."""


class EdgeInterceptor(grpc.aio.ServerInterceptor):
    """The ``layers`` (outermost first) around every method, in one wrapper per method."""

    def __init__(self, layers: Sequence[Layer]) -> None:
        self._layers = tuple(layers)
        self._handlers = WrappedHandlers(self._wrap)

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        return self._handlers.get(handler, handler_call_details.method)

    def _wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        wrappings = [w for layer in self._layers if (w := layer.wrapping(handler, method))]
        requests = [w.request for w in wrappings if w.request is not None]
        deserializers = [w.request_deserializer for w in wrappings if w.request_deserializer]
        if len(requests) > 1 or len(deserializers) > 1:
            raise TypeError(f"more than one layer changes the request of {method}")
        return wrap_handler(
            handler,
            tuple(w.around for w in wrappings if w.around is not None),
            request=requests[0] if requests else None,
            request_deserializer=deserializers[0] if deserializers else None,
        )


class ErrorMapping:
    """Turns exceptions raised by servicers (and inner layers) into statuses."""

    def wrapping(self, handler: grpc.RpcMethodHandler, method: str) -> Wrapping | None:
        return Wrapping(around=partial(_MappedErrors, method))


class CallContext:
    """What a layer runs around one call, entered as it starts and left as it ends (a
    class rather than an ``asynccontextmanager``: one is made for every call, and an async
    generator costs more to make, to enter and to leave)."""

    __slots__ = ()

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        await self.leave(exc)
        return False  # never swallows: an error goes on, or is replaced by a status

    async def leave(self, error: BaseException | None) -> None:
        """The call ended, with ``error`` if it raised (a cancellation included)."""


class _MappedErrors(CallContext):
    """One call's exceptions as statuses."""

    __slots__ = ("_ctx", "_method")

    def __init__(self, method: str, ctx: grpc.aio.ServicerContext) -> None:
        self._method, self._ctx = method, ctx

    async def leave(self, error: BaseException | None) -> None:
        if isinstance(error, Exception) and not isinstance(error, grpc.aio.AbortError):
            await _abort_for(error, self._ctx, self._method)  # always raises AbortError


def code_for(error: BaseException) -> grpc.StatusCode | None:
    """The status an exception leaving a servicer ends in (None: the one set on the context)."""
    if isinstance(error, AssayError):
        return status_for(error)[0]
    if isinstance(error, grpc.aio.AbortError):
        return None
    if isinstance(error, asyncio.CancelledError | GeneratorExit):
        return grpc.StatusCode.CANCELLED
    if isinstance(error, NotImplementedError):
        return grpc.StatusCode.UNIMPLEMENTED
    return grpc.StatusCode.INTERNAL


class RpcMetrics:
    """``assay_grpc_server_handled_total{method,code}`` and a latency histogram.

    Install it *inside* :class:`ErrorMapping`: it sees the domain error before it becomes a
    status, so the count is recorded before the client gets its answer.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.handled = Counter(
            "assay_grpc_server_handled_total",
            "RPCs completed on the server, by method and status code.",
            ["grpc_method", "grpc_code"],
            registry=registry,
        )
        self.latency = Histogram(
            "assay_grpc_server_handling_seconds",
            "Time to handle an RPC (streams: until the stream ends).",
            ["grpc_method"],
            registry=registry,
        )
        self._handled: dict[tuple[str, str], Counter] = {}
        self._latency: dict[str, Histogram] = {}

    def observe(
        self,
        method: str,
        ctx: grpc.aio.ServicerContext,
        started: float,
        error: BaseException | None,
    ) -> None:
        code = (code_for(error) if error is not None else None) or ctx.code()
        name = code.name if isinstance(code, grpc.StatusCode) else "OK"
        # The labelled children are looked up once per method (and code): ``labels`` takes
        # a lock and builds a key on every call.
        handled = self._handled.get((method, name))
        if handled is None:
            handled = self._handled[method, name] = self.handled.labels(method, name)
        latency = self._latency.get(method)
        if latency is None:
            latency = self._latency[method] = self.latency.labels(method)
        handled.inc()
        latency.observe(time.perf_counter() - started)

    def wrapping(self, handler: grpc.RpcMethodHandler, method: str) -> Wrapping | None:
        return Wrapping(around=partial(_Timed, self, method))


class _Timed(CallContext):
    """One call's count and latency, recorded as it ends."""

    __slots__ = ("_ctx", "_method", "_metrics", "_started")

    def __init__(self, metrics: RpcMetrics, method: str, ctx: grpc.aio.ServicerContext) -> None:
        self._metrics, self._method, self._ctx = metrics, method, ctx
        self._started = 0.0

    async def __aenter__(self) -> None:
        self._started = time.perf_counter()

    async def leave(self, error: BaseException | None) -> None:
        self._metrics.observe(self._method, self._ctx, self._started, error)


def wrap_handler(
    handler: grpc.RpcMethodHandler,
    arounds: tuple[Around, ...],
    *,
    request: Callable[[Any], Any] | None = None,
    request_deserializer: Callable[[bytes], Any] | None = None,
) -> grpc.RpcMethodHandler:
    """A copy of ``handler`` whose behaviour runs inside ``arounds`` (each called with the
    call's context and entered in order, left in reverse; one exit stack, no wrapper each).

    ``request``, when given, replaces the behaviour's first argument (the request, or the
    request iterator of a client stream) by what it returns, inside the ``arounds``;
    ``request_deserializer`` replaces the handler's.

    Covers the four kinds of RPC: a streaming response written as an async generator is
    wrapped as one, a coroutine that streams through ``context.write`` (grpc's health
    Watch) as a coroutine, a plain function of a unary request (grpc's health List) as a
    coroutine calling it. Other synchronous handlers are not served by this grpc.aio
    server: TypeError, so nothing can slip past the edge unwrapped.
    """
    options = {
        "request_deserializer": request_deserializer or handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    prepare = request or _same
    request_streaming = handler.request_streaming
    for kind, make in (
        ("unary_unary", grpc.unary_unary_rpc_method_handler),
        ("unary_stream", grpc.unary_stream_rpc_method_handler),
        ("stream_unary", grpc.stream_unary_rpc_method_handler),
        ("stream_stream", grpc.stream_stream_rpc_method_handler),
    ):
        behaviour = getattr(handler, kind)
        if behaviour is None:
            continue
        if inspect.isasyncgenfunction(behaviour):
            return make(_wrap_generator(behaviour, arounds, prepare), **options)
        if inspect.iscoroutinefunction(behaviour):
            return make(_wrap_coroutine(behaviour, arounds, prepare), **options)
        if not (request_streaming or inspect.isgeneratorfunction(behaviour)):
            # A plain function answering a unary request (grpc's health List): called on
            # the loop, as grpc.aio itself would.
            return make(_wrap_coroutine(_as_coroutine(behaviour), arounds, prepare), **options)
        raise TypeError(f"{kind} handler {behaviour!r} is neither a coroutine nor async")
    raise TypeError("a method handler without a behaviour")


def _same(request: Any) -> Any:
    return request


def _as_coroutine(function: Callable[[Any, grpc.aio.ServicerContext], Any]) -> Behaviour:
    async def call(request: Any, ctx: grpc.aio.ServicerContext) -> Any:
        return function(request, ctx)

    return call


def _wrap_coroutine(
    behaviour: Behaviour, arounds: tuple[Around, ...], prepare: Callable[[Any], Any]
) -> Behaviour:
    async def wrapped(request: Any, ctx: grpc.aio.ServicerContext) -> Any:
        async with AsyncExitStack() as stack:
            for around in arounds:
                await stack.enter_async_context(around(ctx))
            return await behaviour(prepare(request), ctx)

    return wrapped


def _wrap_generator(
    behaviour: StreamBehaviour, arounds: tuple[Around, ...], prepare: Callable[[Any], Any]
) -> StreamBehaviour:
    async def wrapped(request: Any, ctx: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        async with AsyncExitStack() as stack:
            for around in arounds:
                await stack.enter_async_context(around(ctx))
            async for item in behaviour(prepare(request), ctx):
                yield item

    return wrapped
