"""The Assay server embedded in the CLI process, for ``assay scan``.

The same composition root as ``assay serve`` (:class:`~assay.server.app.AssayServer`) on a
private address: 127.0.0.1 on a port the system picks (loopback only, so without
authentication, as ``assay serve`` itself allows), results in a SQLite file in a private
temporary directory that is removed afterwards, no HTTP ports, no scheduler, no workflow
controller. It runs on its own event loop in a daemon thread, so the synchronous gRPC
client of the CLI talks to it exactly as to a remote server.

The server stack is imported when a scan starts, not when the CLI starts. Like ``assay
serve``, this is a place where the client package reaches into the server (an
import-linter exception).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from assay.server.settings import StartupError

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


@dataclasses.dataclass(frozen=True)
class EmbeddedOptions:
    policy: Path | None = None
    check_timeout_s: float | None = None
    verbose: bool = False


@contextmanager
def embedded_server(options: EmbeddedOptions) -> Iterator[str]:
    """Start the server, yield its ``HOST:PORT``, stop it and remove its files.

    Raises :class:`~assay.server.settings.StartupError` (one line) when it cannot start,
    e.g. for an unusable policy file."""
    from assay.server.app import AssayServer
    from assay.server.settings import Settings, check

    with (
        _server_logs(options.verbose),
        tempfile.TemporaryDirectory(prefix="assay-scan-") as private,
    ):
        Path(private).chmod(0o700)
        base = Settings()
        assessment = base.assessment
        if options.check_timeout_s is not None:
            assessment = dataclasses.replace(assessment, check_timeout_s=options.check_timeout_s)
        settings = check(
            dataclasses.replace(
                base,
                listen="127.0.0.1:0",
                health_port=0,
                metrics_port=0,
                database_url=f"sqlite:///{Path(private) / 'assay.db'}",
                policy=str(options.policy) if options.policy else "",
                log_level=base.log_level,
                shutdown_grace_s=0.0,
                assessment=dataclasses.replace(assessment, schedule=""),
                workflow=dataclasses.replace(base.workflow, enabled=False),
            )
        )
        # The run comes at once: the results writer starts while the files are uploaded.
        server = AssayServer(settings, writer_at_start=True)
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="assay-embedded", daemon=True)
        thread.start()
        try:
            try:
                asyncio.run_coroutine_threadsafe(server.start(), loop).result(START_TIMEOUT_S)
            except StartupError:
                raise
            except Exception as exc:  # a bug: say what, in one line
                raise StartupError(
                    f"the embedded server did not start: {type(exc).__name__}: {exc}"
                ) from exc
            yield f"127.0.0.1:{server.port}"
        finally:
            try:
                asyncio.run_coroutine_threadsafe(server.stop(0), loop).result(STOP_TIMEOUT_S)
                asyncio.run_coroutine_threadsafe(cancel_leftovers(), loop).result(STOP_TIMEOUT_S)
            finally:
                loop.call_soon_threadsafe(loop.stop)
                thread.join(STOP_TIMEOUT_S)
                if not thread.is_alive():
                    loop.close()


async def cancel_leftovers() -> None:
    """Cancel and await what is still scheduled on the loop, so nothing is destroyed while
    pending."""
    current = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@contextmanager
def _server_logs(verbose: bool) -> Iterator[None]:
    """While the server runs, its logs go to stderr: errors only (a plug-in that failed to
    load, say), from info up with ``verbose``. The open-listener warning of ``assay serve``
    does not apply to a private loopback port."""
    server_log = logging.getLogger("assay")
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    previous = server_log.level
    server_log.addHandler(handler)
    server_log.setLevel(logging.INFO if verbose else logging.ERROR)
    alembic = logging.getLogger("alembic")
    alembic_level = alembic.level
    alembic.setLevel(logging.WARNING)
    try:
        yield
    finally:
        server_log.removeHandler(handler)
        server_log.setLevel(previous)
        alembic.setLevel(alembic_level)


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is when a record is emitted."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass
