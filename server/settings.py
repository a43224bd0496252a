"""The server's settings: one nested frozen dataclass, read from ``ASSAY_*`` variables and
``assay serve`` flags, and validated as a whole before anything starts.

Each component owns the dataclass of its settings (``kube/settings.py``,
``assessment/settings.py``, ``workflow/settings.py``); :class:`Settings` composes them and
the composition root hands each sub-object, as it is, to its component.

Naming rule (one rule, so every field is reachable and no name is written twice)::

    env   ASSAY_ + group prefix + FIELD, upper case, without a unit suffix (_s)
    flag  --  + the same words after ASSAY_, lower case, '_' -> '-'

The group prefix is the group's field name (``KUBE_``, ``WORKFLOW_``) unless its field
metadata says otherwise (``assessment`` has none; ``workflow.leader_election`` is
``LEADER_ELECTION_``; ``workflow.backoff`` nests as ``WORKFLOW_BACKOFF_``). A field named
``enabled`` is the group's own switch and takes the prefix alone (``ASSAY_LEADER_ELECTION``).
A field's ``env`` metadata replaces the derived name (it keeps names older than the rule,
``ASSAY_WORKFLOWS``), ``flags`` adds aliases (``--context``). Durations are seconds; a
``tuple[str, ...]`` field is a comma-separated list (``ASSAY_WRITER_GROUPS=a,b``, empty for
none).

Field metadata (plain keys, so component packages need import nothing from here)::

    help          one line for ``assay serve --help`` (required)
    min, max, gt  bounds of a number (gt: strictly greater)
    env, flags    the names above;  default_text  the default shown when it is computed
    secret        never repeat the value in an error (a database URL with a password)
    prefix        (group fields) the env prefix of the group

A dataclass may define ``problems()`` yielding ``(field, message)`` for rules that span
fields (``field`` may be dotted to blame a field of a sub-group, ``"tls.cert"``).
:func:`load_settings` parses, bounds-checks and runs every ``problems()`` and raises one
:class:`SettingsError` listing every bad value by its variable and flag. While no token
source or TLS is configured, nothing but loopback may be listened on (the health port
excepted: it serves nothing but liveness and readiness).
:class:`StartupError` is the general "this server cannot start" error: the CLI prints it
as one line and exits 1.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import ipaddress
import math
import os
import types
import typing
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Union

from assay.server.assessment.settings import AssessmentSettings
from assay.server.auth.settings import AuthSettings, TlsSettings
from assay.server.core.threads import available_cores
from assay.server.kube.settings import KubeSettings
from assay.server.workflow.settings import WorkflowSettings

DEFAULT_LISTEN = "127.0.0.1:50051"


class LogLevel(enum.StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class Settings:
    listen: str = field(
        default=DEFAULT_LISTEN,
        metadata={"help": "HOST:PORT of the gRPC server (0.0.0.0:50051: every interface)."},
    )
    processes: int = field(
        default=1,
        metadata={
            "help": "gRPC server processes sharing the listen port (SO_REUSEPORT; more than "
            "one needs PostgreSQL). The first also serves the health and metrics ports.",
            "min": 1,
            "max": 64,
        },
    )
    read_threads: int = field(
        default=0,
        metadata={
            "help": "Threads per server process that run query RPCs, each with a "
            "PostgreSQL connection (0: two per core, a container's CPU limit counting, shared "
            "among the processes; at least 2, at most 8).",
            "min": 0,
            "max": 256,
        },
    )
    health_port: int = field(
        default=8081,
        metadata={
            "help": "Port of /healthz and /readyz, without authentication (0: off).",
            "min": 0,
            "max": 65535,
        },
    )
    health_host: str = field(
        default="0.0.0.0",
        metadata={
            "help": "Address of the health port: the pod's (kubelet probes the pod IP), "
            "not the gRPC listen host."
        },
    )
    metrics_port: int = field(
        default=9090,
        metadata={
            "help": "Port of /metrics; a bearer token is required when authentication is on "
            "(0: off).",
            "min": 0,
            "max": 65535,
        },
    )
    metrics_host: str = field(
        default="",
        metadata={
            "help": "Address of the metrics port (empty: the gRPC listen host).",
            "default_text": "the listen host",
        },
    )
    health_poll_s: float = field(
        default=5.0,
        metadata={
            "help": "Seconds between checks of storage (and the controller) that turn gRPC "
            "health NOT_SERVING and back.",
            "gt": 0,
        },
    )
    database_url: str = field(
        default="",
        metadata={
            "help": "SQLAlchemy URL: sqlite:///path or postgresql://... (empty: a SQLite file "
            "in the user's data directory).",
            "secret": True,
        },
    )
    database_statement_timeout_s: float = field(
        default=30.0,
        metadata={
            "help": "PostgreSQL: seconds a statement may run before the server cancels it; "
            "the server gives up on a database that does not answer 2 s later.",
            "gt": 0,
        },
    )
    results_writer_min_rows: int = field(
        default=1000,
        metadata={
            "help": "A check's results are written by a separate writer process, started "
            "by the first batch of at least this many results and taking every batch once "
            "ready, so a large run's writes use another core than its checks; 0 writes "
            "everything in the server process.",
            "min": 0,
        },
    )
    cluster_id: str = field(
        default="default",
        metadata={"help": "Name of the assessed cluster in run ids, history and lock names."},
    )
    policy: str = field(
        default="",
        metadata={"help": "YAML policy file: check severities, parameters, exemptions."},
    )
    shutdown_grace_s: float = field(
        default=10.0,
        metadata={"help": "Seconds in-flight calls and runs get to finish on shutdown.", "min": 0},
    )
    log_level: LogLevel = field(default=LogLevel.INFO, metadata={"help": "Log verbosity."})
    kube: KubeSettings = field(
        default_factory=KubeSettings, metadata={"help": "Kubernetes API client."}
    )
    assessment: AssessmentSettings = field(
        default_factory=AssessmentSettings, metadata={"help": "Assessments.", "prefix": ""}
    )
    workflow: WorkflowSettings = field(
        default_factory=WorkflowSettings, metadata={"help": "Workflow executions."}
    )
    auth: AuthSettings = field(
        default_factory=AuthSettings,
        metadata={"help": "Authentication and authorisation.", "prefix": ""},
    )
    tls: TlsSettings = field(
        default_factory=TlsSettings, metadata={"help": "TLS of the gRPC port."}
    )

    @property
    def listen_host(self) -> str:
        return self.listen.rpartition(":")[0]

    @property
    def auth_enabled(self) -> bool:
        """Callers must authenticate: a token source or TLS is configured."""
        return bool(self.auth.token_file or self.auth.token_review or self.tls.cert)

    @functools.cached_property
    def read_threads_per_process(self) -> int:
        """``read_threads``, or when 0 two per available core (a container's CPU limit
        counts) shared among the processes, from 2 to 8."""
        return self.read_threads or auto_read_threads(
            cores=available_cores(), processes=self.processes
        )

    @property
    def metrics_bind_host(self) -> str:
        return self.metrics_host or self.listen_host

    def problems(self) -> Iterator[tuple[str, str]]:
        host, _, port = self.listen.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            yield "listen", f"expected HOST:PORT with a port up to 65535, got {self.listen!r}"
        elif not self.auth_enabled and not is_loopback(host):
            yield "listen", f"{host} is not loopback and authentication is off: {_AUTH_HOW}"
        open_metrics = self.metrics_port and not self.auth_enabled and self.metrics_host
        if open_metrics and not is_loopback(self.metrics_host):
            yield (
                "metrics_host",
                (f"{self.metrics_host} is not loopback and authentication is off: {_AUTH_HOW}"),
            )
        if self.tls.cert and not (
            self.tls.client_ca or self.auth.token_file or self.auth.token_review
        ):
            yield (
                "tls.cert",
                (
                    "TLS alone authenticates no caller: also set ASSAY_TLS_CLIENT_CA, "
                    "ASSAY_TOKEN_FILE or ASSAY_TOKEN_REVIEW"
                ),
            )
        if self.database_url:
            from sqlalchemy.exc import ArgumentError  # not loaded for `assay --help`

            from assay.server.storage.engine import normalize_url

            try:
                normalize_url(self.database_url)
            except ArgumentError:  # its message repeats the URL, password included
                yield "database_url", "not a SQLAlchemy URL (sqlite:///path, postgresql://...)"
            except ValueError as exc:
                yield "database_url", str(exc)
        if self.processes > 1:
            yield from self._process_problems()
        if not self.cluster_id.strip() or len(self.cluster_id) > 253:
            yield "cluster_id", "must be 1 to 253 characters"
        if self.policy and not os.path.isfile(self.policy):
            yield "policy", f"{self.policy!r} is not a file"

    def _process_problems(self) -> Iterator[tuple[str, str]]:
        from sqlalchemy.exc import ArgumentError

        from assay.server.storage.engine import normalize_url

        backend = "sqlite"
        if self.database_url:
            try:
                backend = normalize_url(self.database_url).get_backend_name()
            except (ArgumentError, ValueError):
                return  # reported under database_url
        if backend != "postgresql":
            yield (
                "processes",
                "several processes need a PostgreSQL database_url: SQLite lets one process "
                "write at a time, so the processes' runs would wait on each other",
            )
        if self.workflow.enabled and not self.workflow.leader_election.enabled:
            yield (
                "processes",
                "several processes with workflows need leader election, or each would "
                "reconcile every execution",
            )


# Building a reply holds the GIL: beyond a few read threads per process, more only make
# the event loop wait for it to send replies (docs/design.md, "Storage").
MAX_AUTO_READ_THREADS = 8


def auto_read_threads(*, cores: int, processes: int) -> int:
    """Read threads per process when ``read_threads`` is 0: two per core shared among the
    processes, at least 2 (a slow query leaves one for the others), at most
    ``MAX_AUTO_READ_THREADS``."""
    return min(MAX_AUTO_READ_THREADS, max(2, 2 * cores // processes))


_AUTH_HOW = "set ASSAY_TOKEN_FILE, ASSAY_TOKEN_REVIEW or ASSAY_TLS_CERT, or listen on 127.0.0.1"


def is_loopback(host: str) -> bool:
    """``host`` is a loopback address (``127.0.0.1``, ``[::1]``) or ``localhost``."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# -- the options of the tree --------------------------------------------------------------------

_LEAF_TYPES = (bool, int, float, str, tuple)
_KNOWN_KEYS = frozenset(
    {"help", "min", "max", "gt", "env", "flags", "default_text", "secret", "prefix"}
)


@dataclass(frozen=True)
class Option:
    """One leaf setting: where it sits in the tree and what it is called outside."""

    path: tuple[str, ...]
    env: str
    flags: tuple[str, ...]
    kind: type
    optional: bool
    default: Any
    metadata: Mapping[str, Any]
    group: str

    @property
    def dotted(self) -> str:
        return ".".join(self.path)

    @property
    def param(self) -> str:
        """A Python identifier for the option (``workflow__workers``)."""
        return "__".join(self.path)

    @property
    def label(self) -> str:
        return f"{self.env} ({self.flags[0]})"

    @property
    def help(self) -> str:
        return str(self.metadata["help"])

    @property
    def default_text(self) -> str:
        if "default_text" in self.metadata:
            return str(self.metadata["default_text"])
        return self.format(self.default)

    def format(self, value: Any) -> str:
        """``value`` as it would be written in the variable (``""`` for empty)."""
        if self.metadata.get("secret") and value:
            return "<hidden>"
        if value is None:
            return "none"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, enum.Enum):
            return str(value.value)
        if isinstance(value, tuple):
            value = ",".join(value)
        if value == "":
            return '""'
        return str(value)

    def value_in(self, settings: Settings) -> Any:
        return _value_at(settings, self.path)

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(m.value for m in self.kind) if issubclass(self.kind, enum.Enum) else ()


def _words(name: str) -> str:
    return name.removesuffix("_s").upper()


def _walk(cls: type, path: tuple[str, ...], prefix: str, group: str) -> Iterator[Option]:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        unknown = set(f.metadata) - _KNOWN_KEYS
        if unknown or "help" not in f.metadata:
            raise TypeError(f"{cls.__name__}.{f.name}: needs 'help', unknown keys {unknown}")
        kind, optional = _unwrap(hints[f.name])
        if dataclasses.is_dataclass(kind):
            sub_prefix = f.metadata.get("prefix", prefix + _words(f.name) + "_")
            yield from _walk(kind, (*path, f.name), sub_prefix, str(f.metadata["help"]))
            continue
        if not (issubclass(kind, _LEAF_TYPES) or issubclass(kind, enum.Enum)):
            raise TypeError(f"{cls.__name__}.{f.name}: unsupported setting type {kind}")
        if f.name == "enabled" and prefix:
            derived = "ASSAY_" + prefix.rstrip("_")
        else:
            derived = "ASSAY_" + prefix + _words(f.name)
        env = str(f.metadata.get("env", derived))
        flag = "--" + env.removeprefix("ASSAY_").lower().replace("_", "-")
        factory: Any = f.default_factory
        default = f.default if f.default is not dataclasses.MISSING else factory()
        yield Option(
            path=(*path, f.name),
            env=env,
            flags=(flag, *f.metadata.get("flags", ())),
            kind=kind,
            optional=optional,
            default=default,
            metadata=f.metadata,
            group=group,
        )


def _unwrap(hint: Any) -> tuple[type, bool]:
    """``X`` or ``X | None`` -> (X, optional); ``tuple[str, ...]`` -> (tuple, False)."""
    if typing.get_origin(hint) in (Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"unsupported setting type {hint}")
        return args[0], True
    if typing.get_origin(hint) is tuple:
        if typing.get_args(hint) != (str, ...):
            raise TypeError(f"unsupported setting type {hint}: lists are tuple[str, ...]")
        return tuple, False
    return hint, False


@functools.cache
def options() -> tuple[Option, ...]:
    """Every leaf of :class:`Settings`, in declaration order; names unique (checked)."""
    found = tuple(_walk(Settings, (), "", "Server"))
    names = [n for o in found for n in (o.env, *o.flags)]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise TypeError(f"settings names used twice: {sorted(duplicates)}")
    return found


def option(dotted: str) -> Option:
    """The option at ``dotted`` (``"workflow.workers"``)."""
    for candidate in options():
        if candidate.dotted == dotted:
            return candidate
    raise KeyError(dotted)


# -- errors -------------------------------------------------------------------------------------


class StartupError(Exception):
    """The server cannot start; the message says why in one line, naming the setting."""

    def __init__(self, problem: str, *, setting: str = "") -> None:
        problem = " ".join(problem.split())  # one line, whatever a driver's message holds
        self.problem = problem
        self.setting = setting
        label = option(setting).label if setting else ""
        super().__init__(f"{label}: {problem}" if label else problem)


@dataclass(frozen=True)
class Problem:
    option: Option
    message: str

    def __str__(self) -> str:
        return f"{self.option.label}: {self.message}"


class SettingsError(StartupError):
    """One or more settings are invalid; every one is listed."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("invalid settings: " + "; ".join(str(p) for p in self.problems))


# -- reading and checking ------------------------------------------------------------------------

Raw = str | bool


def load_settings(
    env: Mapping[str, str], flags: Mapping[str, Raw | None] | None = None
) -> Settings:
    """Settings from ``env`` (``ASSAY_*``) overridden by ``flags`` (keyed by dotted path, as
    the CLI passes them; None means not given), validated; raises :class:`SettingsError`."""
    given = {k: v for k, v in (flags or {}).items() if v is not None}
    unknown = set(given) - {o.dotted for o in options()}
    if unknown:
        raise KeyError(f"unknown settings: {sorted(unknown)}")
    values: dict[tuple[str, ...], Any] = {}
    problems: list[Problem] = []
    for opt in options():
        raw: Raw | None = given.get(opt.dotted)
        if raw is None and env.get(opt.env, "") != "":
            raw = env[opt.env]
        if raw is None:
            continue
        try:
            values[opt.path] = _parse(opt, raw)
        except ValueError as exc:
            problems.append(Problem(opt, str(exc)))
    if problems:
        raise SettingsError(problems)
    settings: Settings = _build(Settings, (), values)
    return check(settings)


def check(settings: Settings) -> Settings:
    """Raise :class:`SettingsError` listing every invalid value of ``settings``."""
    order = {o.path: i for i, o in enumerate(options())}
    problems = sorted(_problems(settings), key=lambda p: order[p.option.path])
    if problems:
        raise SettingsError(problems)
    return settings


def _parse(opt: Option, raw: Raw) -> Any:
    if isinstance(raw, bool):
        if opt.kind is not bool:
            raise ValueError("expected a value")
        return raw
    text = raw.strip()
    if opt.kind is tuple:
        return tuple(item.strip() for item in text.split(",") if item.strip())
    if opt.optional and text.lower() == "none":
        return None
    if opt.kind is bool:
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"expected true or false, got {_shown(opt, raw)}")
    if opt.kind is int:
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"expected a whole number, got {_shown(opt, raw)}") from None
    if opt.kind is float:
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"expected a number, got {_shown(opt, raw)}") from None
        if not math.isfinite(number):
            raise ValueError(f"expected a finite number, got {_shown(opt, raw)}")
        return number
    if issubclass(opt.kind, enum.Enum):
        try:
            return opt.kind(text.lower())
        except ValueError:
            choices = ", ".join(opt.choices)
            raise ValueError(f"expected one of {choices}, got {_shown(opt, raw)}") from None
    return raw  # strings as given (checked for control characters with the rest)


def _shown(opt: Option, raw: Raw) -> str:
    return "a hidden value" if opt.metadata.get("secret") else repr(raw)


def _build(cls: type, path: tuple[str, ...], values: Mapping[tuple[str, ...], Any]) -> Any:
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        here = (*path, f.name)
        kind, _ = _unwrap(typing.get_type_hints(cls)[f.name])
        if dataclasses.is_dataclass(kind):
            kwargs[f.name] = _build(kind, here, values)
        elif here in values:
            kwargs[f.name] = values[here]
    return cls(**kwargs)


def _problems(settings: Settings) -> Iterator[Problem]:
    by_path = {o.path: o for o in options()}
    for opt in options():
        value = _value_at(settings, opt.path)
        message = _bounds(opt, value)
        if message:
            yield Problem(opt, message)
    for path, obj in _groups(settings, ()):
        rules = getattr(obj, "problems", None)
        if rules is None:
            continue
        for name, message in rules():
            yield Problem(by_path[(*path, *name.split("."))], message)


def _bounds(opt: Option, value: Any) -> str:
    if value is None:
        return "" if opt.optional else "is required"
    if isinstance(value, tuple):
        value = ",".join(value)
    if isinstance(value, str):
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            return "must not contain control characters"
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    low, high, above = opt.metadata.get("min"), opt.metadata.get("max"), opt.metadata.get("gt")
    if above is not None and not value > above:
        return f"must be greater than {above}, got {value}"
    if low is not None and value < low:
        return f"must be at least {low}, got {value}"
    if high is not None and value > high:
        return f"must be at most {high}, got {value}"
    return ""


def _value_at(obj: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        obj = getattr(obj, name)
    return obj


def _groups(obj: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, obj
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            yield from _groups(value, (*path, f.name))


# -- documentation ------------------------------------------------------------------------------


def markdown_table() -> str:
    """Every setting as a Markdown table (variable, flag, default, meaning), in declaration
    order: README.md's configuration table, written by ``scripts/generate``."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| Variable | `assay serve` flag | Default | Meaning |", "|---|---|---|---|"]
    for opt in options():
        meaning = opt.help
        if opt.choices:
            meaning += f" One of: {', '.join(opt.choices)}."
        elif opt.kind is tuple:
            meaning += " Comma-separated."
        flags = ", ".join(f"`{flag}`" for flag in opt.flags)
        default = opt.default_text
        if "default_text" not in opt.metadata:  # a value, not words about one
            default = f"`{default}`"
        lines.append(f"| `{opt.env}` | {flags} | {cell(default)} | {cell(meaning)} |")
    return "\n".join(lines) + "\n"
