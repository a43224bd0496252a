"""The edge's one interceptor: its layers composed into one wrapper per method."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

import grpc
import pytest

from assay.server.api.interceptors import EdgeInterceptor, Wrapping


class Recording:
    """A layer that records entering and leaving each call, and may change the request."""

    def __init__(self, name: str, log: list[str], *, prefix: str | None = None) -> None:
        self.name, self.log, self.prefix = name, log, prefix

    def wrapping(self, handler: grpc.RpcMethodHandler, method: str) -> Wrapping | None:
        if method.endswith("/Open"):
            return None
        request = None if self.prefix is None else (lambda r: f"{self.prefix}{r}")
        return Wrapping(around=self._around, request=request)

    @asynccontextmanager
    async def _around(self, ctx: Any) -> AsyncIterator[None]:
        self.log.append(f"{self.name} in")
        try:
            yield
        finally:
            self.log.append(f"{self.name} out")


async def unary(request: str, ctx: Any) -> str:
    return request.upper()


async def stream(request: str, ctx: Any) -> AsyncIterator[str]:
    for part in request:
        yield part


def handlers() -> Iterator[grpc.RpcMethodHandler]:
    yield grpc.unary_unary_rpc_method_handler(unary)
    yield grpc.unary_stream_rpc_method_handler(stream)


@dataclass(frozen=True)
class Details:
    method: str
    invocation_metadata: tuple[tuple[str, str], ...] = ()


async def wrapped(edge: EdgeInterceptor, method: str, handler: Any) -> Any:
    async def continuation(details: Any) -> Any:
        return handler

    details = cast(grpc.HandlerCallDetails, Details(method))
    return await edge.intercept_service(continuation, details)


async def test_layers_enter_outermost_first_in_one_wrapper_kept_per_method() -> None:
    log: list[str] = []
    edge = EdgeInterceptor([Recording("a", log), Recording("b", log, prefix="x")])
    unary_handler, stream_handler = handlers()

    first = await wrapped(edge, "/s/Unary", unary_handler)
    assert await first.unary_unary("y", None) == "XY"
    assert log == ["a in", "b in", "b out", "a out"]
    assert await wrapped(edge, "/s/Unary", unary_handler) is first

    log.clear()
    streamed = await wrapped(edge, "/s/Stream", stream_handler)
    assert [part async for part in streamed.unary_stream("ab", None)] == ["x", "a", "b"]
    assert log == ["a in", "b in", "b out", "a out"]


async def test_a_layer_may_leave_a_method_alone() -> None:
    log: list[str] = []
    edge = EdgeInterceptor([Recording("a", log)])
    unary_handler, _ = handlers()
    handler = await wrapped(edge, "/s/Open", unary_handler)
    assert await handler.unary_unary("y", None) == "Y"
    assert log == []


async def test_two_layers_may_not_both_change_the_request() -> None:
    log: list[str] = []
    edge = EdgeInterceptor([Recording("a", log, prefix="1"), Recording("b", log, prefix="2")])
    unary_handler, _ = handlers()
    with pytest.raises(TypeError, match="more than one layer"):
        await wrapped(edge, "/s/Unary", unary_handler)
