"""Several server processes on one port: ``assay serve --processes N`` (``ASSAY_PROCESSES``).

One Python process serves gRPC on at most one core (the GIL). With ``processes`` above one,
``assay serve`` becomes a supervisor of that many server processes, each a complete
:class:`~assay.server.app.AssayServer` whose gRPC socket sets ``SO_REUSEPORT``, so the
kernel spreads new connections over them. What the supervisor does:

- **Reserves the address** first: it binds the listen address itself (``SO_REUSEPORT``,
  never listening, so it is handed no connection). A port in use fails there, before any
  process starts, and port 0 is resolved once, for every process.
- **Starts the processes one after the other** (``spawn``: a fresh interpreter, no state
  inherited), each once the previous one is serving: only the first migrates the database,
  and a start-up failure (an unreachable database, a bad certificate) stops everything with
  that process's error, as a single server would.
- **Splits the singletons**: the first process serves the health and metrics ports (its
  ``/readyz``; ``/metrics`` of every process, see below) and runs the schedule; the others
  have them off. Every process runs the workflow controller when it is on, under
  its own leader-election identity (the configured one plus ``-<index>``), so one process
  reconciles at a time, as with replicas. Runs belong to the process that executes them and
  are heartbeated by it, as across replicas on one database (hence PostgreSQL only: the
  settings refuse SQLite).
- **Forwards SIGTERM and SIGINT** to every process and waits for each to finish its
  graceful shutdown (each has ``shutdown_grace_s``); the supervisor then exits 0.
- A server process whose supervisor is gone (even killed, so that it forwarded nothing)
  shuts down as on SIGTERM: no process outlives its supervisor.
- **Shares the metrics**: every process keeps its metric values in files of a private
  temporary directory (prometheus_client's multiprocess mode, ``PROMETHEUS_MULTIPROC_DIR``,
  set for the processes it starts), and the first process's ``/metrics`` adds them up:
  counters and histograms over every process that ever served (a restarted process's
  counts are not lost), gauges over the live ones. The directory goes when the supervisor
  exits (unless it is killed with SIGKILL).
- **Restarts a process that dies** once it was serving (after :data:`RESTART_DELAY_S`); the
  runs it was executing are failed by the others' liveness sweep, as for a crashed
  replica. If a restarted process fails to start, the whole server stops with its error.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from types import FrameType

from prometheus_client import multiprocess

from assay.server.observability.http import MULTIPROCESS_DIR_VARIABLE
from assay.server.settings import Settings, StartupError

log = logging.getLogger(__name__)

RESTART_DELAY_S = 1.0
# Past its own grace, how long a process has to exit after SIGTERM before it is killed.
STOP_MARGIN_S = 30.0

Replica = Callable[[Settings, Connection], None]
"""A server process's entry point: serve ``settings`` (with SO_REUSEPORT) and send None on
the connection once serving, or the start-up error's text instead, then exit 1."""


def replica_settings(settings: Settings, listen: str, index: int) -> Settings:
    """The settings of process ``index``: the resolved address; the singletons only in
    the first; a leader-election identity of its own."""
    election = settings.workflow.leader_election
    workflow = dataclasses.replace(
        settings.workflow,
        leader_election=dataclasses.replace(election, identity=f"{election.identity}-{index}"),
    )
    changes: dict[str, object] = {"listen": listen, "workflow": workflow}
    if index > 0:
        changes |= {
            "health_port": 0,
            "metrics_port": 0,
            "assessment": dataclasses.replace(settings.assessment, schedule=""),
        }
    return dataclasses.replace(settings, **changes)  # type: ignore[arg-type]


@contextlib.contextmanager
def reserved(listen: str) -> Iterator[str]:
    """Hold ``listen`` bound with SO_REUSEPORT (not listening) and yield it with its port
    resolved; StartupError when it cannot be bound."""
    host, _, port = listen.rpartition(":")
    sockets: list[socket.socket] = []
    try:
        chosen = int(port)
        for family, kind, proto, _, address in socket.getaddrinfo(
            host.strip("[]") or None, chosen, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        ):
            reservation = socket.socket(family, kind, proto)
            sockets.append(reservation)
            reservation.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            reservation.bind((address[0], chosen, *address[2:]))
            chosen = reservation.getsockname()[1]
    except OSError as exc:
        for reservation in sockets:
            reservation.close()
        raise StartupError(f"cannot listen on {listen}: {exc}", setting="listen") from exc
    try:
        yield f"{host}:{chosen}"
    finally:
        for reservation in sockets:
            reservation.close()


@dataclasses.dataclass
class _Child:
    index: int
    process: BaseProcess
    started_at: float


class Supervisor:
    """Runs ``settings.processes`` server processes until a signal; see the module doc."""

    def __init__(self, settings: Settings, replica: Replica) -> None:
        self._settings = settings
        self._replica = replica
        self._context = multiprocessing.get_context("spawn")
        self._children: dict[int, _Child] = {}
        self._stopping = False
        self._listen = settings.listen
        self._metrics_dir = ""

    def run(self) -> None:
        """Serve until SIGTERM or SIGINT; StartupError when a process cannot start."""
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            with reserved(self._settings.listen) as listen, shared_metrics() as metrics_dir:
                self._listen = listen
                self._metrics_dir = metrics_dir
                try:
                    for index in range(self._settings.processes):
                        self._start(index)
                    log.info(
                        "assay serving gRPC on %s with %d processes", listen, len(self._children)
                    )
                    self._watch()
                finally:
                    self._stop_all()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stopping = True
        self._signal_children()

    def _signal_children(self) -> None:
        for child in self._children.values():
            if child.process.pid is not None and child.process.exitcode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.process.pid, signal.SIGTERM)

    def _start(self, index: int) -> None:
        """Start process ``index`` and wait until it serves; StartupError if it cannot."""
        receive, send = self._context.Pipe(duplex=False)
        settings = replica_settings(self._settings, self._listen, index)
        process = self._context.Process(
            target=self._replica, args=(settings, send), name=f"assay-{index}", daemon=False
        )
        process.start()
        send.close()
        self._children[index] = _Child(index, process, time.monotonic())
        with receive:
            while not self._stopping:
                if receive in wait([receive, process.sentinel], timeout=1.0):
                    try:
                        problem = receive.recv()
                    except EOFError:  # exited without a word
                        process.join()
                        problem = f"it exited with status {process.exitcode} while starting"
                    if problem is None:
                        log.info("assay process %d (pid %d) serving", index, process.pid)
                        return
                    raise StartupError(f"server process {index}: {problem}")
                if process.exitcode is not None:
                    raise StartupError(
                        f"server process {index} exited with status {process.exitcode} "
                        "while starting"
                    )

    def _watch(self) -> None:
        """Wait for a signal, restarting a process that dies meanwhile."""
        while not self._stopping:
            children = list(self._children.values())
            ended = wait([child.process.sentinel for child in children], timeout=1.0)
            for child in (c for c in children if c.process.sentinel in ended):
                child.process.join()
                self._forget_metrics(child)
                if self._stopping:
                    break
                log.error(
                    "assay process %d (pid %d) exited with status %s after %.0f s; restarting",
                    child.index,
                    child.process.pid,
                    child.process.exitcode,
                    time.monotonic() - child.started_at,
                )
                time.sleep(RESTART_DELAY_S)
                if not self._stopping:
                    self._start(child.index)

    def _stop_all(self) -> None:
        """SIGTERM to every process still running, then wait for each (killed past its
        grace and a margin)."""
        self._stopping = True
        log.info("assay stopping its processes")
        self._signal_children()
        deadline = time.monotonic() + self._settings.shutdown_grace_s + STOP_MARGIN_S
        for child in self._children.values():
            child.process.join(max(0.0, deadline - time.monotonic()))
            if child.process.exitcode is None:
                log.error("assay process %d did not stop in time; killing it", child.index)
                child.process.kill()
                child.process.join()
            self._forget_metrics(child)

    def _forget_metrics(self, child: _Child) -> None:
        """Drop the gauges of a process that ended (its counters keep counting in the sum)."""
        if self._metrics_dir and child.process.pid is not None:
            multiprocess.mark_process_dead(child.process.pid, self._metrics_dir)  # type: ignore[no-untyped-call]


@contextlib.contextmanager
def shared_metrics() -> Iterator[str]:
    """A private temporary directory in which the processes started meanwhile keep their
    metric values (``PROMETHEUS_MULTIPROC_DIR``, read by prometheus_client when a process
    imports it: spawned processes inherit it); removed, and the variable restored, after."""
    previous = os.environ.get(MULTIPROCESS_DIR_VARIABLE)
    directory = tempfile.mkdtemp(prefix="assay-metrics-")
    os.environ[MULTIPROCESS_DIR_VARIABLE] = directory
    try:
        yield directory
    finally:
        if previous is None:
            del os.environ[MULTIPROCESS_DIR_VARIABLE]
        else:
            os.environ[MULTIPROCESS_DIR_VARIABLE] = previous
        shutil.rmtree(directory, ignore_errors=True)


def stop_with_parent() -> None:
    """In a server process: SIGTERM itself (a graceful shutdown) once the supervisor is
    gone, also when it was killed and could forward no signal."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch(sentinel: int) -> None:
        wait([sentinel])
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, args=(parent.sentinel,), daemon=True).start()


def supervise(settings: Settings, replica: Replica) -> None:
    """Serve ``settings`` with ``settings.processes`` processes; see the module docstring."""
    Supervisor(settings, replica).run()
