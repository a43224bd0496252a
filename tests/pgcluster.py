"""A throwaway PostgreSQL server a test owns: start, stop, freeze (SIGSTOP) and thaw it.

The shared server at 127.0.0.1:5432 must never be stopped or frozen, so tests of a database
outage run their own: ``initdb`` once per session into a template directory, then for each
cluster a copy of it, ``pg_ctl start`` on a free loopback port, trust authentication, no
fsync. The binaries come from ``/usr/lib/postgresql/<version>/bin`` (the newest), or the
directory in ``ASSAY_TEST_PG_BIN``; a test that needs a cluster is skipped when there are
none.

Use the ``pg_cluster`` fixture (registered by ``tests/conftest.py``)::

    def test_outage(pg_cluster: PgCluster) -> None:
        url = pg_cluster.create_database("assay")   # a SQLAlchemy URL string
        ...
        with pg_cluster.frozen():                   # every postgres process stopped
            ...                                     # calls hang at the socket
        pg_cluster.stop()                           # immediate shutdown: connections drop
        pg_cluster.start()                          # same port, same data
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_PG_ROOT = Path("/usr/lib/postgresql")


def pg_bin() -> Path | None:
    """The directory of initdb/pg_ctl, or None when PostgreSQL is not installed."""
    given = os.environ.get("ASSAY_TEST_PG_BIN")
    if given:
        return Path(given)
    candidates = sorted(
        (p for p in _PG_ROOT.glob("*/bin") if (p / "pg_ctl").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_postgres(command: list[str]) -> list[str]:
    """``command`` as the ``postgres`` user when running as root (initdb and postgres refuse
    root). Through runuser, not subprocess's ``user=``: that makes Python fork() instead of
    vfork(), and a fork() of a process with gRPC's threads running can crash the child."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


def _chown_tree(path: Path) -> None:
    if os.geteuid() != 0:
        return
    import pwd

    user = pwd.getpwnam("postgres")
    for root, dirs, files in os.walk(path):
        for name in (root, *(os.path.join(root, n) for n in (*dirs, *files))):
            os.chown(name, user.pw_uid, user.pw_gid)


def init_template(directory: Path, binaries: Path) -> Path:
    """An initialised data directory to copy clusters from."""
    data = directory / "template"
    _chown_tree(directory)
    subprocess.run(
        _as_postgres(
            [
                str(binaries / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        ),
        check=True,
        capture_output=True,
    )
    return data


class PgCluster:
    """One PostgreSQL server in ``directory``, on ``port`` (127.0.0.1 only)."""

    def __init__(self, template: Path, directory: Path, binaries: Path) -> None:
        self.binaries = binaries
        self.data = directory / "data"
        shutil.copytree(template, self.data)
        os.chmod(self.data, 0o700)
        _chown_tree(directory)
        self.port = _free_port()
        self.log = directory / "postgres.log"
        self._frozen: list[int] = []

    @property
    def url(self) -> str:
        """The maintenance database's URL."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            _as_postgres(
                [str(self.binaries / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), *args]
            ),
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            "-c fsync=off -c full_page_writes=off -c max_connections=50"
        )
        self._ctl("start", "-w", "-o", options)

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server (``immediate``: as if it crashed, connections dropped)."""
        self.thaw()
        self._ctl("stop", "-w", "-m", mode)

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def create_database(self, name: str) -> str:
        """Create ``name`` and return its URL."""
        import psycopg

        with psycopg.connect(self.url.replace("+psycopg", ""), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def _pids(self) -> list[int]:
        """The postmaster and every process it started."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        pids = [postmaster]
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == postmaster:
                    pids.append(int(entry.name))
        return pids

    def freeze(self) -> None:
        """SIGSTOP every server process: the kernel still accepts and ACKs, nothing answers."""
        self._frozen = self._pids()
        for pid in self._frozen:
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self._frozen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        self._frozen = []

    @contextlib.contextmanager
    def frozen(self) -> Iterator[None]:
        self.freeze()
        try:
            yield
        finally:
            self.thaw()

    def destroy(self) -> None:
        self.thaw()
        if self.running():
            with contextlib.suppress(subprocess.SubprocessError):
                self.stop()


@contextlib.contextmanager
def _scratch(prefix: str) -> Iterator[Path]:
    """A directory the ``postgres`` user can reach (pytest's tmp_path is private to root)."""
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(directory, 0o755)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[tuple[Path, Path]]:
    binaries = pg_bin()
    if binaries is None:
        pytest.skip("no PostgreSQL binaries (initdb, pg_ctl) under /usr/lib/postgresql")
    with _scratch("assay-pg-template-") as directory:
        yield init_template(directory, binaries), binaries


@pytest.fixture
def pg_cluster(pg_template: tuple[Path, Path]) -> Iterator[PgCluster]:
    """A running throwaway PostgreSQL server, stopped (and thawed) after the test."""
    template, binaries = pg_template
    with _scratch("assay-pg-") as directory:
        cluster = PgCluster(template, directory, binaries)
        cluster.start()
        try:
            yield cluster
        finally:
            cluster.destroy()
