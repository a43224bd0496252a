"""Shared CLI plumbing: connection state, error handling and option parsing.

Every command opens the client through :func:`connect`, which reads the credential files
the root options name (token, CA, client certificate) and turns a :class:`ClientError`, or
an unreadable file, into one readable line on stderr and exit code 1, never a traceback.
"""

from __future__ import annotations

import re
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Protocol, TypeVar

import grpc
import typer
from google.protobuf import timestamp_pb2
from google.protobuf.message import Message
from rich.console import Console

from assay.client import formatters as fmt
from assay.client.api import (
    DEFAULT_SERVER,
    DEFAULT_TIMEOUT_S,
    AssayClient,
    ClientError,
    Credentials,
)
from assay.client.formatters import Output
from assay.v1 import assessment_pb2 as apb
from assay.v1 import common_pb2 as cpb


@dataclass(frozen=True)
class CredentialOptions:
    """The root options that say how to authenticate, as given (files not read yet)."""

    token: str | None = None
    token_file: Path | None = None
    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    insecure: bool = False

    def load(self) -> Credentials:
        """Read the files; ValueError with one line when one is missing or unusable."""
        if self.token and self.token_file:
            raise ValueError("give the token with --token (ASSAY_TOKEN) or --token-file, not both")
        token = self.token.strip() if self.token else None
        if self.token_file is not None:
            token = _read(self.token_file, "--token-file").decode("utf-8", "replace").strip()
            if not token:
                raise ValueError(f"--token-file {self.token_file}: the file is empty")
        if self.insecure and (self.ca or self.cert):
            raise ValueError("--insecure turns TLS off: it cannot go with --ca or --cert")
        if (self.cert is None) != (self.key is None):
            raise ValueError("--cert and --key go together")
        return Credentials(
            token=token or None,
            ca=_read(self.ca, "--ca") if self.ca else None,
            cert=_read(self.cert, "--cert") if self.cert else None,
            key=_read(self.key, "--key") if self.key else None,
            insecure=self.insecure,
        )


def _read(path: Path, option: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{option} {path}: {exc.strerror or exc}") from None


@dataclass
class CliState:
    server: str = DEFAULT_SERVER
    timeout_s: float = DEFAULT_TIMEOUT_S
    credentials: CredentialOptions = field(default_factory=CredentialOptions)
    console: Console = field(default_factory=Console)
    errors: Console = field(default_factory=lambda: Console(stderr=True))


def state(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    if not isinstance(obj, CliState):
        obj = CliState()
        ctx.find_root().obj = obj
    return obj


def fail(ctx: typer.Context, message: str, code: int = 1) -> typer.Exit:
    """Print ``error: message`` on stderr (the message as text, whatever brackets or
    control characters it holds); return the Exit to raise."""
    state(ctx).errors.print(fmt.joined(("error:", "red"), " ", message), soft_wrap=True)
    return typer.Exit(code)


OutputOpt = Annotated[
    Output, typer.Option("--output", "-o", help=fmt.OUTPUT_HELP, case_sensitive=False)
]


@contextmanager
def connect(ctx: typer.Context) -> Iterator[AssayClient]:
    st = state(ctx)
    try:
        credentials = st.credentials.load()
    except ValueError as error:
        raise fail(ctx, str(error)) from None
    client = AssayClient(st.server, timeout_s=st.timeout_s, credentials=credentials)
    try:
        yield client
    except ClientError as error:
        raise fail(ctx, str(error)) from None
    finally:
        client.close()


V = TypeVar("V", bound=int)

# The names the filters take are the names output prints (fmt.enum_values); pillars also
# answer to their first word, their hyphenated form and a short prefix.
_PILLAR_ALIASES: dict[str, cpb.Pillar.ValueType] = {}
for _name, _value in fmt.enum_values(cpb.Pillar).items():
    _PILLAR_ALIASES[_name] = _value
    _PILLAR_ALIASES[_name.replace("_", "-")] = _value
    _PILLAR_ALIASES[_name.split("_")[0]] = _value
for _prefix, _value in {
    "sec": cpb.PILLAR_SECURITY,
    "rel": cpb.PILLAR_RELIABILITY,
    "perf": cpb.PILLAR_PERFORMANCE_EFFICIENCY,
    "cost": cpb.PILLAR_COST_OPTIMIZATION,
    "ops": cpb.PILLAR_OPERATIONAL_EXCELLENCE,
    "sus": cpb.PILLAR_SUSTAINABILITY,
}.items():
    _PILLAR_ALIASES[_prefix] = _value

STATUSES: dict[str, cpb.Status.ValueType] = fmt.enum_values(cpb.Status)
SEVERITIES: dict[str, cpb.Severity.ValueType] = fmt.enum_values(cpb.Severity)
RUN_PHASES: dict[str, apb.RunPhase.ValueType] = fmt.enum_values(apb.RunPhase)


def _split(values: list[str] | None) -> list[str]:
    return [part.strip() for v in values or [] for part in v.split(",") if part.strip()]


def choices(kind: str, values: list[str] | None, table: Mapping[str, V]) -> list[V]:
    out: list[V] = []
    for item in _split(values):
        key = item.lower()
        if key not in table:
            known = ", ".join(sorted({k for k in table if "-" not in k}))
            raise typer.BadParameter(f"unknown {kind} {item!r} (one of: {known})")
        if table[key] not in out:
            out.append(table[key])
    return out


def pillars(values: list[str] | None) -> list[cpb.Pillar.ValueType]:
    return choices("pillar", values, _PILLAR_ALIASES)


def statuses(values: list[str] | None) -> list[cpb.Status.ValueType]:
    return choices("status", values, STATUSES)


def run_phases(values: list[str] | None) -> list[apb.RunPhase.ValueType]:
    return choices("state", values, RUN_PHASES)


_RELATIVE = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def since(value: str | None, *, now: datetime | None = None) -> timestamp_pb2.Timestamp | None:
    """``--since``: an ISO 8601 time (naive means UTC) or a relative age like 30m, 24h, 7d."""
    if not value:
        return None
    match = _RELATIVE.match(value.strip())
    if match:
        delta = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        moment = (now or datetime.now(UTC)) - delta
    else:
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise typer.BadParameter(
                f"{value!r} is neither an ISO 8601 time nor an age like 30m, 24h, 7d"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(moment.astimezone(UTC))
    return ts


M = TypeVar("M", bound=Message)
R = TypeVar("R", bound=Message)


def paged(request: M, *, limit: int | None, since_text: str | None = None) -> M:
    """Set the optional ``limit`` and ``since`` fields of an offset-paged list request
    (absent: server defaults); returns the request."""
    if limit is not None:
        request.limit = limit  # type: ignore[attr-defined]
    ts = since(since_text)
    if ts is not None:
        request.since.CopyFrom(ts)  # type: ignore[attr-defined]
    return request


def token_paged(
    request: M,
    *,
    limit: int | None,
    page_token: str | None,
    total: bool,
    since_text: str | None = None,
) -> M:
    """Set the page fields (AIP-158) and ``since`` of a token-paged list request; returns it."""
    if limit is not None:
        request.page_size = limit  # type: ignore[attr-defined]
    if page_token:
        request.page_token = page_token  # type: ignore[attr-defined]
    request.include_total = total  # type: ignore[attr-defined]
    ts = since(since_text)
    if ts is not None:
        request.since.CopyFrom(ts)  # type: ignore[attr-defined]
    return request


def pages(request: M, call: Callable[[M], R], items: str, *, follow: bool) -> R:
    """``call(request)``; with ``follow``, every further page too, their ``items`` appended
    to the first response (which then has no next_page_token)."""
    response = call(request)
    seen: set[str] = set()
    while follow and (token := response.next_page_token):  # type: ignore[attr-defined]
        if token in seen:  # a server bug must not loop the CLI forever
            raise ClientError(grpc.StatusCode.INTERNAL, "the server repeated a page token", "")
        seen.add(token)
        request.page_token = token  # type: ignore[attr-defined]
        page = call(request)
        getattr(response, items).extend(getattr(page, items))
        response.next_page_token = page.next_page_token  # type: ignore[attr-defined]
    return response


class Cancellable(Protocol):
    def cancel(self) -> None: ...


C = TypeVar("C", bound=Cancellable)


class Interrupt:
    """Ctrl-C while following a stream: a flag, and the stream cancelled from a helper
    thread (see :func:`interruptible`)."""

    def __init__(self) -> None:
        self.hit = threading.Event()
        self._lock = threading.Lock()
        self._stream: Cancellable | None = None

    def follow(self, stream: C) -> C:
        """Cancel ``stream`` on Ctrl-C (at once if Ctrl-C came before it existed)."""
        with self._lock:
            self._stream = stream
        if self.hit.is_set():
            stream.cancel()
        return stream

    def _handle(self, signum: int, frame: object) -> None:
        self.hit.set()
        threading.Thread(target=self._cancel, name="assay-interrupt", daemon=True).start()

    def _cancel(self) -> None:
        with self._lock:
            stream = self._stream
        if stream is not None:
            stream.cancel()


@contextmanager
def interruptible() -> Iterator[Interrupt]:
    """While the block runs, Ctrl-C sets ``Interrupt.hit`` and cancels the stream given to
    ``Interrupt.follow`` instead of raising KeyboardInterrupt.

    The default Ctrl-C raises KeyboardInterrupt wherever the main thread happens to be; inside
    the gRPC library that can leave one of its locks held and hang the channel's close. Here
    the signal only sets a flag and cancels the stream from a helper thread, and the main
    thread leaves the stream the ordinary way. The handler is installed before the stream
    starts, so no Ctrl-C falls between the two. Outside the main thread nothing is installed.
    """
    interrupt = Interrupt()
    if threading.current_thread() is not threading.main_thread():
        yield interrupt
        return
    previous = signal.signal(signal.SIGINT, interrupt._handle)
    try:
        yield interrupt
    finally:
        signal.signal(signal.SIGINT, previous)
