"""Pytest plugin: a real Assay server on 127.0.0.1:0, in a thread with its own event loop.

The server runs on its own loop so that synchronous callers (the generated sync stubs, the
``AssayClient`` wrapper, typer's CliRunner) can block on RPCs without stalling it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest

from assay.client.api import AssayClient
from assay.client.cli.embedded import cancel_leftovers
from assay.server.app import AssayServer
from assay.server.settings import Settings
from assay.server.storage.repository import Repository

T = TypeVar("T")


class ServerThread:
    """Starts ``AssayServer`` in a daemon thread; ``target`` is its HOST:PORT."""

    def __init__(
        self,
        server: AssayServer,
        *,
        setup: Callable[[], Coroutine[Any, Any, object]] | None = None,
        teardown: Callable[[], Coroutine[Any, Any, object]] | None = None,
    ) -> None:
        """``setup`` runs on the server's loop before it starts, ``teardown`` after it stops
        (e.g. a Kubernetes API double that the server's clients talk to)."""
        self.server = server
        self._setup = setup
        self._teardown = teardown
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.target = ""

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run ``coro`` on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def __enter__(self) -> ServerThread:
        self._thread.start()
        if self._setup is not None:
            self.call(self._setup())
        self.call(self.server.start())
        self.target = f"127.0.0.1:{self.server.port}"
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.call(self.server.stop(0))
            if self._teardown is not None:
                self.call(self._teardown())
            self.call(cancel_leftovers())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()


def server_settings(**groups: Any) -> Settings:
    """Settings on 127.0.0.1:0 without the HTTP ports (health and metrics on loopback when a
    test turns them on); keyword arguments replace fields of the top level or whole groups
    (``workflow=WorkflowSettings(...)``)."""
    base = Settings(listen="127.0.0.1:0", health_port=0, health_host="127.0.0.1", metrics_port=0)
    return dataclasses.replace(base, **groups)


@pytest.fixture
def assay_server(repository: Repository) -> Iterator[ServerThread]:
    with ServerThread(AssayServer(server_settings(), repository=repository)) as running:
        yield running


@pytest.fixture
def client(assay_server: ServerThread) -> Iterator[AssayClient]:
    with AssayClient(assay_server.target, timeout_s=10) as c:
        yield c
