"""Large result batches written by a process of their own, so a run costs max(checks, writes).

A run's checks and its writes both need the interpreter: the sqlite3 module binds every
parameter, and psycopg formats every COPY row, while holding the GIL. In one process a big
run therefore costs the sum of the two, however many threads it has. :class:`ResultWriter`
moves the writes of large batches (``results_writer_min_rows`` results or more) to a child
process that owns a connection pool of its own to the same database, so they run on another
core while the next checks run here.

What crosses is cheap: each batch as flat tuples (``writes.flatten``) and the run row that
goes with it, pickled over a socket pair. The encoding is the one per-result cost left here,
and :meth:`ResultWriter.encode` does it apart from the write: ``StorageSink.prepare`` has
each check's thread encode its own results as soon as they exist, so it is spread over the
checks instead of queued behind the previous batch's write (a thread of its own would wait
for the interpreter behind every running check). The child answers ``None`` or the domain error of
its write (``NotFound``, ``Unavailable``, ``InvalidArgument``), which is raised here as if
the write had run in this process. Anything else the child meets becomes
:class:`WriterFailed` (its log has the traceback). Batches are written one at a time, in the
order they are given; each waits for its own commit, so a caller's order holds.

Lifecycle: the child is started on the first large batch (its start-up, importing the
storage layer, costs about a second, which small runs never pay), or at once by
:meth:`ResultWriter.start` (``assay scan``, about to run: the start-up then overlaps the
upload and the parsing), with the database URL sent over the socket, never on its command
line, and the server's log level and format (its log lines go to the server's stderr). It
says when it is ready; from then on it takes every batch, small ones too: a write in the
server process would take the interpreter from the checks (small batches written here amid
a run went at 15,000 rows/s, the child's large ones at 66,000), and the child is paid for.
A child that never had a batch is killed at close rather than waited for. A child that
dies or cannot be reached makes that batch fail with ``Unavailable`` (the runner retries
writes while storage is unavailable), and the next batch starts a new one.
:meth:`ResultWriter.close` (at server shutdown) closes the socket; the child exits at end
of input, and is killed if it has not within :data:`STOP_TIMEOUT_S`. It ignores SIGINT (a
Ctrl-C reaches the whole process group; the server decides when writing stops) and exits
when the server's end of the socket closes, even if the server was killed.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection

from sqlalchemy import URL

from assay.server.core.errors import AssayError, Unavailable
from assay.server.core.types import AssessmentResult, Run
from assay.server.storage.engine import create_engine_from_url
from assay.server.storage.repository import Repository
from assay.server.storage.writes import FlatResult, flatten

log = logging.getLogger(__name__)

# The child's program. Not ``-m`` this module: the storage package imports it first, and
# runpy would then execute it a second time as ``__main__``.
_CHILD = "import sys; from assay.server.storage.writer import main; main(sys.argv[1:])"

# What the child sends once it has opened the database, before its first batch.
_READY = "ready"

STOP_TIMEOUT_S = 10.0
"""Seconds :meth:`ResultWriter.close` waits for the child to finish its batch and exit."""


@dataclass(frozen=True)
class EncodedBatch:
    """A batch as the child reads it: its flat results, pickled (:meth:`ResultWriter.encode`)."""

    payload: bytes
    count: int


class WriterFailed(RuntimeError):
    """The writer process failed a batch with an error that is not a domain error."""


@dataclass(frozen=True)
class _Hello:
    """The first message to a new child: where to write, and how to log (as the server)."""

    url: str
    statement_timeout_s: float
    log_level: int
    log_format: str

    @classmethod
    def of(cls, url: URL, statement_timeout_s: float) -> _Hello:
        root = logging.getLogger()
        formatter = next((h.formatter for h in root.handlers if h.formatter), None)
        return cls(
            url.render_as_string(hide_password=False),
            statement_timeout_s,
            root.getEffectiveLevel(),
            logging.BASIC_FORMAT if formatter is None else formatter._fmt or logging.BASIC_FORMAT,
        )


@dataclass
class _Child:
    process: subprocess.Popen[bytes]
    channel: Connection
    # Whether it said it is ready (read by the first write, or by ``wants`` when idle).
    ready: bool = False
    # Whether a batch was sent: a child that never had one is killed at close, not waited
    # for (it may still be importing).
    used: bool = False


class ResultWriter:
    """Writes large result batches through a child process; thread-safe (one batch at a time).

    ``min_rows``: a batch of fewer results is not worth the trip (:meth:`wants`); the
    caller writes it in process.
    """

    def __init__(self, url: URL, *, statement_timeout_s: float, min_rows: int) -> None:
        self._url = url
        self._statement_timeout_s = statement_timeout_s
        self.min_rows = min_rows
        self._lock = threading.Lock()
        self._child: _Child | None = None
        self._closed = False

    @classmethod
    def for_database(
        cls, url: URL, *, statement_timeout_s: float, min_rows: int
    ) -> ResultWriter | None:
        """A writer for ``url``, or ``None`` when it is off (``min_rows`` 0) or another
        process cannot open the same database (an in-memory SQLite one)."""
        if min_rows <= 0 or not _shared(url):
            return None
        return cls(url, statement_timeout_s=statement_timeout_s, min_rows=min_rows)

    def wants(self, count: int) -> bool:
        """Whether a batch of ``count`` results goes to the child: one of ``min_rows`` or
        more, and any once the child is ready (see the module doc)."""
        if self.min_rows <= 0:
            return False
        return count >= self.min_rows or self._child_ready()

    def _child_ready(self) -> bool:
        """Whether a child runs and has said it is ready, without waiting (when another
        thread holds the lock, not yet: the batch is written here)."""
        child = self._child
        if child is None or child.ready:
            return child is not None
        if not self._lock.acquire(blocking=False):
            return False
        try:
            if self._child is child and child.channel.poll():
                child.ready = _is_ready(child.channel.recv())
        except (OSError, EOFError):  # it died, or is broken: the next write starts another
            self._discard(child)
            return False
        finally:
            self._lock.release()
        return child.ready

    def start(self) -> None:
        """Start the child now, not on the first large batch: for a caller about to run a
        large run, so the child's start-up overlaps other work. If it cannot start, the
        first batch it wants tries again (and fails with ``Unavailable`` if it cannot)."""
        with self._lock:
            if not self._closed and self._child is None:
                try:
                    self._start()
                except Unavailable as exc:
                    log.warning("%s; trying again on the first batch", exc)

    @property
    def pid(self) -> int | None:
        """The running child's process id, if one was started and has not been discarded."""
        child = self._child
        return None if child is None else child.process.pid

    def encode(self, results: Sequence[AssessmentResult]) -> EncodedBatch:
        """``results`` ready for :meth:`write`: the per-result work, which any thread may do
        (the sink has the check's own thread do it, so it is not queued behind the write
        of the batch before)."""
        return EncodedBatch(pickle.dumps(flatten(results), pickle.HIGHEST_PROTOCOL), len(results))

    def write(self, batch: EncodedBatch, *, run: Run | None) -> None:
        """``Repository.add_results`` of the encoded results and ``run``, executed by the
        child; raises the domain error of its write, or :class:`WriterFailed`."""
        with self._lock:
            if self._closed:
                raise Unavailable("storage unavailable: the server is shutting down")
            child = self._child or self._start()
            child.used = True
            try:
                if not child.ready:
                    child.ready = _is_ready(child.channel.recv())
                child.channel.send_bytes(batch.payload)
                child.channel.send(run)
                reply = child.channel.recv()
            except (OSError, EOFError) as exc:
                self._discard(child)
                raise Unavailable(
                    "storage unavailable: the results writer process stopped"
                ) from exc
        if isinstance(reply, AssayError):
            raise reply
        if reply is not None:
            raise WriterFailed(f"the results writer process failed a batch: {reply}")

    def close(self) -> None:
        """Stop the child (it finishes the batch in hand first); later batches fail."""
        with self._lock:
            self._closed = True
            if self._child is not None:
                self._discard(self._child)

    def _start(self) -> _Child:
        ours, theirs = socket.socketpair()
        try:
            with theirs:  # the child's end: open here only until the child has it
                process = subprocess.Popen(
                    [sys.executable, "-c", _CHILD, str(theirs.fileno())],
                    pass_fds=[theirs.fileno()],
                    stdin=subprocess.DEVNULL,
                )
        except OSError as exc:
            ours.close()
            raise Unavailable("storage unavailable: cannot start the results writer") from exc
        child = _Child(process, Connection(ours.detach()))
        channel = child.channel
        try:
            channel.send(_Hello.of(self._url, self._statement_timeout_s))
        except OSError as exc:
            self._discard(child)
            raise Unavailable("storage unavailable: cannot start the results writer") from exc
        log.info("results writer process %d started", process.pid)
        self._child = child
        return child

    def _discard(self, child: _Child) -> None:
        if self._child is child:
            self._child = None
        child.channel.close()  # the child reads end of input and exits
        if not child.used:  # nothing to finish, and perhaps still importing
            child.process.kill()
        try:
            child.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            log.warning("results writer process %d did not stop; killing it", child.process.pid)
            child.process.kill()
            child.process.wait()


def _is_ready(message: object) -> bool:
    """The child's first message must say it is ready; anything else is a broken child."""
    if message != _READY:
        raise EOFError(f"the results writer sent {message!r} instead of {_READY!r}")
    return True


def _shared(url: URL) -> bool:
    if url.get_backend_name() != "sqlite":
        return True
    database = url.database or ""
    return bool(database) and ":memory:" not in database and "mode=memory" not in str(url)


def _serve(channel: Connection) -> None:
    """The child's loop: one batch in, its outcome out, until end of input."""
    hello: _Hello = channel.recv()
    logging.basicConfig(level=hello.log_level, format=hello.log_format)
    engine = create_engine_from_url(hello.url, statement_timeout_s=hello.statement_timeout_s)
    try:
        repository = Repository(engine)
        channel.send(_READY)
        while True:
            try:
                flat = pickle.loads(channel.recv_bytes())
            except EOFError:
                return
            channel.send(_write(repository, flat, channel.recv()))
    finally:
        engine.dispose()


def _write(repository: Repository, flat: list[FlatResult], run: Run | None) -> object:
    try:
        repository.add_flat_results(flat, run=run)
    except AssayError as exc:
        return exc
    except Exception as exc:
        log.exception("results writer: a batch failed")
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:500]
    return None


def main(argv: Sequence[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # End of input or a broken pipe mid-batch: the server went away, and so does the child.
    with Connection(int(argv[0])) as channel, contextlib.suppress(EOFError, BrokenPipeError):
        _serve(channel)
