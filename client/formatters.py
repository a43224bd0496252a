"""Renders responses for people (tables) and for programs (json, yaml); the CLI calls :func:`emit`.

Four outputs, as ``-o``/``--output`` names them:

- ``table``: the columns that matter, fitted to the terminal (Rich reads ``COLUMNS``; 80
  when the output is not a terminal): ids shortened, times as ages, wrapping text columns
  share what the fixed ones leave.
- ``wide``: every column, full ids and RFC 3339 timestamps, one line per row at the
  width the content needs (as ``kubectl -o wide``): for ``less -S``, grep and files.
- ``json`` and ``yaml``: every field under its proto name, with values as a user writes
  them: enums by the names the CLI filters take (``failing``, ``security``,
  ``performance_efficiency``), timestamps in RFC 3339, objects as ``{kind, namespace, name,
  ...}``. :func:`to_data` is the one conversion, :func:`enum_values` the table the filters
  share with it.

A listing is declared as :class:`Column` s (header, cell, whether the table, wide or both
show it, how it lays out) and filled into a :class:`View`; a single object is a field/value
view. Every string a server sends is printed through :func:`literal`: as text, never as Rich
markup or emoji codes, with control characters made visible.
"""

from __future__ import annotations

import base64
import enum
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, Generic, Protocol, TypeVar

import yaml
from google.protobuf import duration_pb2, json_format, struct_pb2, timestamp_pb2
from google.protobuf.descriptor import EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import Text

from assay.v1 import assessment_pb2 as apb
from assay.v1 import common_pb2 as cpb
from assay.v1 import workflow_pb2 as wpb


class Output(enum.StrEnum):
    TABLE = "table"
    WIDE = "wide"
    JSON = "json"
    YAML = "yaml"


OUTPUT_HELP = (
    "table: the columns that matter, fitted to the terminal; wide: every column, full ids "
    "and timestamps; json or yaml: every field, values named as the filters take them."
)

P = TypeVar("P", bound=Message | Sequence[Message])


def emit(
    console: Console,
    output: Output,
    payload: P,
    table: Callable[[P, bool], RenderableType],
) -> None:
    """Print ``payload`` as json/yaml, or the view ``table(payload, wide)`` builds, where
    ``wide`` says whether ``-o wide`` asked for every column."""
    if output in (Output.TABLE, Output.WIDE):
        wide = output is Output.WIDE
        show(console, table(payload, wide), wide=wide)
        return
    data: Any = to_data(payload) if isinstance(payload, Message) else [to_data(m) for m in payload]
    write_data(console.file, output, data)


def show(console: Console, view: RenderableType, *, wide: bool = False) -> None:
    """Print a view for people: lines without Rich's padding, fitted to the terminal (or at
    the width its content asks for when ``wide``)."""
    console.print(_Lines(view, natural=wide), crop=not wide)


def write_data(file: IO[str], output: Output, data: Any, *, compact: bool = False) -> None:
    """``data`` as json or yaml on ``file``, written as is, not rendered by Rich: a listing of
    thousands of results is megabytes that Rich would highlight line by line, and a program
    reads it anyway. ``compact`` json is one line, through the C encoder: several times
    faster than an indented dump on a large report."""
    if output is Output.JSON:
        if compact:
            text = json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"
        else:
            text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    elif output is Output.YAML:
        text = yaml.dump(data, Dumper=_YamlDumper, sort_keys=False, allow_unicode=True)
    else:
        raise ValueError(f"{output} is not a data format")
    file.write(text)
    file.flush()


_YamlDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


_UNBOUNDED = 1 << 16


class _Lines:
    """Renders a table without the spaces Rich pads its lines with; ``natural``: at the
    width its content asks for (one line per row, as ``-o wide`` promises), not the
    console's."""

    def __init__(self, renderable: RenderableType, *, natural: bool) -> None:
        self.renderable = renderable
        self.natural = natural

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self.natural:  # a table that does not expand takes only the width it needs
            options = options.update_width(_UNBOUNDED)
        for line in console.render_lines(self.renderable, options, pad=False, new_lines=False):
            while line and _blank(line[-1]):
                line.pop()
            if line:
                text, style, control = line[-1]
                line[-1] = Segment(text.rstrip() if _blank_style(style) else text, style, control)
            yield from line
            yield Segment.line()


def _blank_style(style: Style | None) -> bool:
    """Whether spaces in ``style`` look like nothing (no background, underline, reverse)."""
    return style is None or not (style.bgcolor or style.underline or style.reverse)


def _blank(segment: Segment) -> bool:
    return not segment.control and not segment.text.strip() and _blank_style(segment.style)


# --- names: enum values as users write them -------------------------------------------------


class _EnumType(Protocol):
    DESCRIPTOR: EnumDescriptor


def _label(descriptor: EnumDescriptor, number: int) -> str:
    """``STATUS_FAILING`` -> ``failing``; a number this client does not know stays a number."""
    value = descriptor.values_by_number.get(number)
    if value is None:
        return str(number)
    unspecified = descriptor.values_by_number.get(0)
    prefix = unspecified.name.removesuffix("UNSPECIFIED") if unspecified is not None else ""
    return value.name.removeprefix(prefix).lower()


def enum_name(enum_type: _EnumType, value: int) -> str:
    """``STATUS_FAILING`` -> ``failing``; ``RUN_PHASE_COMPLETED`` -> ``completed``."""
    return _label(enum_type.DESCRIPTOR, value)


def enum_values(enum_type: Any) -> dict[str, Any]:
    """Name -> value of every specified value: the names output prints and filters take."""
    descriptor: EnumDescriptor = enum_type.DESCRIPTOR
    return {_label(descriptor, v.number): v.number for v in descriptor.values if v.number != 0}


# --- data: one conversion from protobuf messages to plain values ----------------------------


def to_data(message: Message) -> dict[str, Any]:
    """``message`` as plain data for json/yaml: every field under its proto name; enums by
    their names (:func:`enum_name`); Timestamps in RFC 3339 and Durations as ``90s``; 64-bit
    integers as numbers; an unset message or optional field as null."""
    data: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        if field.has_presence and not message.HasField(field.name):
            data[field.name] = None
            continue
        value = getattr(message, field.name)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            data[field.name] = {k: _value(value_field, v) for k, v in value.items()}
        elif field.is_repeated:
            data[field.name] = [_value(field, v) for v in value]
        else:
            data[field.name] = _value(field, value)
    return data


def _value(field: Any, value: Any) -> Any:
    """One value of ``field`` (a FieldDescriptor, pure-Python or upb) as plain data."""
    if field.enum_type is not None:
        return _label(field.enum_type, value)
    if field.type == FieldDescriptor.TYPE_BYTES:
        return base64.b64encode(value).decode("ascii")
    if field.type != FieldDescriptor.TYPE_MESSAGE:
        return value
    if isinstance(value, timestamp_pb2.Timestamp | duration_pb2.Duration):
        return value.ToJsonString()
    if isinstance(value, struct_pb2.Struct | struct_pb2.Value | struct_pb2.ListValue):
        return json_format.MessageToDict(value)
    return to_data(value)


# --- text: server strings printed literally -------------------------------------------------

# C0 and C1 controls except tab and newline, DEL, and the bidirectional overrides that
# reorder what a terminal shows ("Trojan Source").
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(value: str) -> str:
    """``value`` with the characters a terminal would obey (escape sequences, bidi
    overrides) shown as ``\\x1b``, ``\\u202e``."""
    return _UNPRINTABLE.sub(_escape, value)


def literal(value: str, style: str = "") -> Text:
    """A server's string as Rich text: never markup (``evil[/bold]name``, ``[red]``), never
    emoji codes, control characters visible. Every server string goes through it."""
    return Text(printable(value), style=style)


def joined(*parts: str | Text | tuple[str, str]) -> Text:
    """Concatenate plain literal strings, ``(text, style)`` pairs and Texts into one Text."""
    out = Text()
    for part in parts:
        if isinstance(part, Text):
            out.append_text(part)
        elif isinstance(part, tuple):
            out.append_text(literal(*part))
        else:
            out.append_text(literal(part))
    return out


_STYLES = {
    "passing": "green",
    "failing": "red",
    "warning": "yellow",
    "skipped": "dim",
    "exempt": "dim",
    "error": "magenta",
    "timeout": "magenta",
    "completed": "green",
    "partial": "yellow",
    "failed": "red",
    "cancelled": "dim",
    "running": "cyan",
    "queued": "cyan",
    "pending": "cyan",
}


def styled(name: str) -> Text:
    """A state or status name in its colour."""
    return literal(name, _STYLES.get(name, ""))


# --- cells -----------------------------------------------------------------------------------

_SHORT_ID = re.compile(r"^(?:run|asm)_[0-9A-Za-z_]+_([0-9a-f]{6,8})$")


def short_id(value: str) -> str:
    """The random last part of a run or result id (``run_20260216T103045_123456_a7f3b9c2``
    -> ``a7f3b9c2``), as git and docker shorten theirs; any other id whole."""
    match = _SHORT_ID.match(value)
    return match.group(1) if match else value


def timestamp(ts: timestamp_pb2.Timestamp, present: bool = True) -> str:
    """RFC 3339 to the second, ``-`` when unset."""
    if not present or (ts.seconds == 0 and ts.nanos == 0):
        return "-"
    return ts.ToDatetime(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def age(ts: timestamp_pb2.Timestamp, now: datetime | None = None) -> str:
    """How long ago, as kubectl says it: ``45s``, ``12m``, ``3h``, ``2d``; ``-`` when unset."""
    if ts.seconds == 0 and ts.nanos == 0:
        return "-"
    seconds = int(((now or datetime.now(UTC)) - ts.ToDatetime(tzinfo=UTC)).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def score(message: Message) -> str:
    return f"{message.score:.1f}" if message.HasField("score") else "-"  # type: ignore[attr-defined]


def obj_ref(ref: cpb.ObjectReference) -> str:
    """``Deployment prod/web``: the kind, then namespace/name (klog's way)."""
    name = f"{ref.namespace}/{ref.name}" if ref.namespace else ref.name
    return " ".join(p for p in (ref.kind, name) if p) or "-"


def _result_status(r: apb.AssessmentResult) -> Text:
    return styled("exempt" if r.exempted else enum_name(cpb.Status, r.status))


# --- tables ----------------------------------------------------------------------------------

SHORT_IDS_NOTE = "ids shortened: -o wide shows them whole"

T = TypeVar("T")
Cell = str | Text


class Shown(enum.Enum):
    """Which table output shows a column."""

    BOTH = "both"
    TABLE = "table"
    WIDE = "wide"


@dataclass(frozen=True)
class Column(Generic[T]):
    """A column of a listing: its header, the cell of each item (a string is a server's
    and printed literally), and how it lays out."""

    header: str
    cell: Callable[[T], Cell]
    shown: Shown = Shown.BOTH
    wrap: bool = False  # free text: wrapped at spaces, long words folded; else never wrapped
    right: bool = False  # numbers
    share: float | None = None  # the largest fraction of the width it takes when wrapping


def _wide(header: str, cell: Callable[[T], Cell], **layout: Any) -> Column[T]:
    return Column(header, cell, Shown.WIDE, **layout)


def _narrow(header: str, cell: Callable[[T], Cell], **layout: Any) -> Column[T]:
    return Column(header, cell, Shown.TABLE, **layout)


class View:
    """A titled table: the title and captions on lines of their own (never squeezed to the
    table's width); the table borderless, two spaces between columns, as kubectl prints."""

    def __init__(self, title: str, captions: Iterable[str] = (), *, header: bool = True) -> None:
        self.title = title
        self.captions = [c for c in captions if c]
        self.table = Table(box=None, pad_edge=False, show_header=header, header_style="bold")
        self._shares: dict[int, float] = {}

    def fill(self, columns: Sequence[Column[T]], items: Iterable[T], *, wide: bool) -> View:
        """Add the columns the output shows (``wide`` or not) and a row per item."""
        shown = [c for c in columns if c.shown in (Shown.BOTH, Shown.WIDE if wide else Shown.TABLE)]
        for column in shown:
            if column.share is not None:
                self._shares[len(self.table.columns)] = column.share
            self.table.add_column(
                column.header,
                no_wrap=not column.wrap,
                overflow="fold",
                justify="right" if column.right else "left",
            )
        for item in items:
            self.table.add_row(*(_text(column.cell(item)) for column in shown))
        return self

    def _parts(self) -> list[RenderableType]:
        return [literal(self.title, "bold"), self.table, *(literal(c) for c in self.captions)]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self._shares:
            for index in self._shares:
                self.table.columns[index].max_width = None
            natural = Measurement.get(console, options.update_width(_UNBOUNDED), self.table)
            if natural.maximum > options.max_width:  # only a table that must wrap is capped
                for index, share in self._shares.items():
                    self.table.columns[index].max_width = max(12, int(options.max_width * share))
        yield from self._parts()

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, Group(*self._parts()))


def _text(cell: Cell) -> Text:
    return cell if isinstance(cell, Text) else literal(cell)


def _details(title: str, rows: Iterable[tuple[str, Cell]]) -> View:
    """A field/value view of one object."""
    view = View(title, header=False)
    view.table.add_column("field", style="bold", no_wrap=True)
    view.table.add_column("value", overflow="fold")
    for name, value in rows:
        view.table.add_row(literal(name), _text(value))
    return view


def _count_title(title: str, shown: int, total: int | None) -> str:
    return f"{title} ({shown} of {total})" if total is not None else f"{title} ({shown})"


def _paged(title: str, shown: int, page: Any, notes: Iterable[str] = ()) -> View:
    """A view titled with how many rows it shows (of how many, when the page says), and
    the token of the next page in its caption."""
    total: int | None = page.total_size if page.HasField("total_size") else None
    token: str = page.next_page_token
    more = f"more: --page-token {token}" if token else ""
    return View(_count_title(title, shown, total), [more, *notes])


_COUNTS = (
    ("PASS", "passing"),
    ("FAIL", "failing"),
    ("WARN", "warning"),
    ("SKIP", "skipped"),
    ("EXEMPT", "exempted"),
    ("ERROR", "error"),
    ("TIMEOUT", "timeout"),
    ("TOTAL", "total"),
)


def _count_of(field: str) -> Callable[[Any], str]:
    """The cell of one StatusCounts field of an item's ``counts``."""
    return lambda item: str(getattr(item.counts, field))


def _counts(narrow: Iterable[str]) -> list[Column[Any]]:
    """A right-aligned column per status count (and the total), the ``narrow`` ones in the
    table, every one in wide; then the score."""
    in_table = set(narrow)
    columns: list[Column[Any]] = [
        Column(
            header,
            _count_of(field),
            Shown.BOTH if field in in_table else Shown.WIDE,
            right=True,
        )
        for header, field in _COUNTS
    ]
    return [*columns, Column("SCORE", score, right=True)]


_STATUS_COUNTS = ("passing", "failing", "warning", "skipped", "error", "timeout")


def _object(r: apb.AssessmentResult) -> str:
    return obj_ref(r.object) + (f" ({r.container})" if r.container else "")


def _severity(item: apb.AssessmentResult | apb.CheckDefinition) -> str:
    return enum_name(cpb.Severity, item.severity)


def _pillar(item: apb.AssessmentResult | apb.CheckDefinition) -> str:
    return enum_name(cpb.Pillar, item.pillar)


_RESULT_COLUMNS: list[Column[apb.AssessmentResult]] = [
    _wide("ID", lambda r: r.id),
    _wide("RUN", lambda r: r.run_id),
    Column("STATUS", _result_status),
    Column("SEVERITY", _severity),
    Column("CHECK", lambda r: r.check_id),
    _wide("PILLAR", _pillar),
    _narrow("OBJECT", _object, wrap=True, share=0.25),
    _wide("OBJECT", lambda r: obj_ref(r.object), wrap=True),
    _wide("CONTAINER", lambda r: r.container or "-", wrap=True),
    Column("MESSAGE", lambda r: r.message, wrap=True),
    _wide("REMEDIATION", lambda r: r.remediation or "-", wrap=True),
    _wide("ASSESSED", lambda r: timestamp(r.assessed_at, r.HasField("assessed_at"))),
]


def results_table(page: apb.ListAssessmentsResponse, wide: bool = False) -> View:
    title = f"Assessment results of run {page.run_id}" if page.run_id else "Assessment results"
    view = _paged(title, len(page.results), page)
    return view.fill(_RESULT_COLUMNS, page.results, wide=wide)


def result_table(r: apb.AssessmentResult, wide: bool = False) -> View:
    status = _result_status(r)
    if r.exempted:
        status = joined(status, " (status skipped)")
    return _details(
        f"Assessment {r.id}",
        [
            ("Run", r.run_id),
            ("Check", f"{r.check_id} {r.check_name}"),
            ("Pillar", _pillar(r)),
            ("Status", status),
            ("Severity", _severity(r)),
            ("Object", obj_ref(r.object)),
            ("Container", r.container or "-"),
            ("Message", r.message),
            ("Remediation", r.remediation or "-"),
            ("Assessed at", timestamp(r.assessed_at, r.HasField("assessed_at"))),
            ("Duration", f"{r.duration_ms} ms"),
        ],
    )


def summary_table(summary: apb.Summary, wide: bool = False) -> View:
    title = f"Summary of run {summary.run_id}" if summary.run_id else "Summary"
    view = View(f"{title} (score {score(summary)})")
    columns: list[Column[Any]] = [
        Column("PILLAR", lambda p: Text("total", "bold") if p is summary else _pillar(p)),
        *_counts((*_STATUS_COUNTS, "exempted")),
    ]
    return view.fill(columns, [*summary.pillars, summary], wide=wide)


def _state(item: apb.RunState | apb.HistoryEntry) -> Text:
    return styled(enum_name(apb.RunPhase, item.state))


_HISTORY_COLUMNS: list[Column[apb.HistoryEntry]] = [
    _narrow("RUN", lambda e: short_id(e.run_id)),
    _wide("RUN", lambda e: e.run_id),
    _wide("CLUSTER", lambda e: e.cluster_id or "-"),
    _narrow("AGE", lambda e: age(e.completed_at)),
    _wide("COMPLETED", lambda e: timestamp(e.completed_at, e.HasField("completed_at"))),
    Column("STATE", _state),
    *_counts(_STATUS_COUNTS),
]


def history_table(page: apb.GetHistoryResponse, wide: bool = False) -> View:
    view = _paged("History", len(page.entries), page, [] if wide else [SHORT_IDS_NOTE])
    return view.fill(_HISTORY_COLUMNS, page.entries, wide=wide)


_RUN_COLUMNS: list[Column[apb.RunState]] = [
    _narrow("RUN", lambda r: short_id(r.run_id)),
    _wide("RUN", lambda r: r.run_id),
    _wide("CLUSTER", lambda r: r.cluster_id or "-"),
    _wide("SOURCE", lambda r: enum_name(apb.InventorySource, r.source)),
    Column("STATE", _state),
    Column("SCOPE", lambda r: _scope(r), wrap=True),
    _narrow("AGE", lambda r: age(r.requested_at)),
    _wide("REQUESTED", lambda r: timestamp(r.requested_at, r.HasField("requested_at"))),
    _wide("COMPLETED", lambda r: timestamp(r.completed_at, r.HasField("completed_at"))),
    Column("CHECKS", lambda r: str(r.check_count), right=True),
    *_counts(["failing"]),
]


def runs_table(page: apb.ListRunsResponse, wide: bool = False) -> View:
    view = _paged("Runs", len(page.runs), page, [] if wide else [SHORT_IDS_NOTE])
    return view.fill(_RUN_COLUMNS, page.runs, wide=wide)


def _scope(r: apb.RunState) -> str:
    scope = enum_name(apb.RunScope, r.scope)
    if r.check_id:
        return f"{scope}: {r.check_id}"
    if r.pillars:
        return f"{scope}: " + ", ".join(enum_name(cpb.Pillar, p) for p in r.pillars)
    return scope


def run_table(r: apb.RunState, wide: bool = False) -> View:
    counts = " ".join(f"{f}={getattr(r.counts, f)}" for _, f in _COUNTS)
    rows: list[tuple[str, Cell]] = [
        ("State", _state(r)),
        ("Scope", _scope(r)),
        ("Source", enum_name(apb.InventorySource, r.source)),
        ("Cluster", r.cluster_id or "-"),
        ("Requested", timestamp(r.requested_at, r.HasField("requested_at"))),
        ("Started", timestamp(r.started_at, r.HasField("started_at"))),
        ("Completed", timestamp(r.completed_at, r.HasField("completed_at"))),
        ("Checks", str(r.check_count)),
        ("Results", counts),
        ("Score", score(r)),
    ]
    if r.error:
        rows.append(("Error", literal(r.error, "red")))
    rows.extend(("Input error", d) for d in r.diagnostics)
    return _details(f"Run {r.run_id}", rows)


def finished_table(finished: apb.RunFinished, wide: bool = False) -> Group:
    """How a followed run ended: the run, then its summary."""
    return Group(run_table(finished.run, wide), summary_table(finished.summary, wide))


_CHECK_COLUMNS: list[Column[apb.CheckDefinition]] = [
    Column("ID", lambda c: c.id),
    _wide("PILLAR", _pillar),
    Column("SEVERITY", _severity),
    _wide("SCOPE", lambda c: c.scope),
    Column("NAME", lambda c: c.name, wrap=True),
    _wide("KINDS", lambda c: ", ".join(c.kinds) or "-", wrap=True),
]


def checks_table(checks: Sequence[apb.CheckDefinition], wide: bool = False) -> View:
    return View(f"Checks ({len(checks)})").fill(_CHECK_COLUMNS, checks, wide=wide)


def _workflow(e: wpb.WorkflowExecution) -> str:
    return f"{e.spec.workflow_ref.workflow_id}@{e.spec.workflow_ref.version}"


def workflow_reason(e: wpb.WorkflowExecution) -> str:
    if e.status.HasField("skip_details"):
        return enum_name(wpb.SkipReason, e.status.skip_details.reason)
    if e.status.HasField("failure_details"):
        return enum_name(wpb.FailureReason, e.status.failure_details.reason)
    return ""


def _phase(item: wpb.WorkflowExecution | wpb.AuditEvent) -> Text:
    phase = item.status.phase if isinstance(item, wpb.WorkflowExecution) else item.phase
    return styled(enum_name(wpb.WorkflowPhase, phase))


_WORKFLOW_COLUMNS: list[Column[wpb.WorkflowExecution]] = [
    Column("NAMESPACE", lambda e: e.namespace),
    Column("NAME", lambda e: e.name),
    Column("PHASE", _phase),
    _wide("WORKFLOW", _workflow, wrap=True),
    Column("TARGET", lambda e: e.spec.target_resource, wrap=True),
    Column("REASON", lambda e: workflow_reason(e) or "-", wrap=True),
    _wide("PIPELINERUN", lambda e: obj_ref(e.status.pipeline_run_ref), wrap=True),
    _narrow("AGE", lambda e: age(e.creation_time)),
    _wide("CREATED", lambda e: timestamp(e.creation_time, e.HasField("creation_time"))),
    _wide(
        "COMPLETED",
        lambda e: timestamp(e.status.completion_time, e.status.HasField("completion_time")),
    ),
]


def workflows_table(page: wpb.ListResponse, wide: bool = False) -> View:
    view = View(_count_title("Workflow executions", len(page.executions), page.total_count))
    return view.fill(_WORKFLOW_COLUMNS, page.executions, wide=wide)


def workflow_table(e: wpb.WorkflowExecution, wide: bool = False) -> View:
    status = e.status
    rows: list[tuple[str, Cell]] = [
        ("Phase", _phase(e)),
        ("Workflow", _workflow(e)),
        ("Bundle", e.spec.workflow_ref.container_image),
        ("Target", e.spec.target_resource),
        ("Created", timestamp(e.creation_time, e.HasField("creation_time"))),
        ("Started", timestamp(status.start_time, status.HasField("start_time"))),
        ("Completed", timestamp(status.completion_time, status.HasField("completion_time"))),
        ("PipelineRun", obj_ref(status.pipeline_run_ref)),
        (
            "Tasks",
            f"{status.pipeline_run_status.completed_tasks}/"
            f"{status.pipeline_run_status.total_tasks}",
        ),
    ]
    if status.HasField("skip_details"):
        rows.append(("Skipped", f"{workflow_reason(e)}: {status.skip_details.message}"))
    if status.HasField("failure_details"):
        failure = status.failure_details
        summary = failure.natural_language_summary or failure.message
        rows.append(("Failure", literal(f"{workflow_reason(e)}: {summary}", "red")))
        if failure.message and failure.message != summary:
            rows.append(("Message", failure.message))
        rows.append(("Failed step", f"{failure.failed_task_name}/{failure.failed_step_name}"))
        rows.append(("Exit code", str(failure.exit_code)))
    return _details(f"WorkflowExecution {e.namespace}/{e.name}", rows)


_AUDIT_COLUMNS: list[Column[wpb.AuditEvent]] = [
    _narrow("AGE", lambda ev: age(ev.occurred_at)),
    _wide("OCCURRED", lambda ev: timestamp(ev.occurred_at, ev.HasField("occurred_at"))),
    Column("EVENT", lambda ev: enum_name(wpb.AuditEventType, ev.event_type)),
    Column("EXECUTION", lambda ev: f"{ev.execution_namespace}/{ev.execution_name}"),
    Column("PHASE", _phase),
    _wide("WORKFLOW", lambda ev: f"{ev.workflow_id}@{ev.workflow_version}", wrap=True),
    _wide("TARGET", lambda ev: ev.target_resource, wrap=True),
    Column("REASON", lambda ev: ev.reason or "-", wrap=True),
    _wide("MESSAGE", lambda ev: ev.message or "-", wrap=True),
]


def audit_table(page: wpb.ListAuditEventsResponse, wide: bool = False) -> View:
    view = _paged("Audit events", len(page.events), page)
    return view.fill(_AUDIT_COLUMNS, page.events, wide=wide)


def watch_line(change: wpb.WatchResponse, stamp: str) -> Text:
    """One line of ``assay workflows watch``: time, execution, phase change and reason."""
    e = change.execution
    reason = workflow_reason(e)
    return joined(
        f"{stamp} {e.namespace}/{e.name} {enum_name(wpb.WorkflowPhase, change.previous_phase)} -> ",
        _phase(e),
        f" ({reason})" if reason else "",
    )
