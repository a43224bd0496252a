"""Renders responses as json, yaml or a rich table; the CLI commands call :func:`emit`.

json and yaml are the protobuf JSON mapping (proto field names), stable for scripts; tables
are for people and show the fields that matter with short enum names.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import yaml
from google.protobuf import json_format, timestamp_pb2
from google.protobuf.message import Message
from rich.console import Console, RenderableType
from rich.table import Table

from assay.v1 import assessment_pb2 as apb
from assay.v1 import common_pb2 as cpb
from assay.v1 import workflow_pb2 as wpb


class Output(enum.StrEnum):
    TABLE = "table"
    JSON = "json"
    YAML = "yaml"


def to_data(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def emit(
    console: Console,
    output: Output,
    payload: Message | Sequence[Message],
    table: Callable[[], RenderableType],
) -> None:
    """Print ``payload`` as json/yaml, or the table ``table()`` builds."""
    if output is Output.TABLE:
        console.print(table())
        return
    data: Any = to_data(payload) if isinstance(payload, Message) else [to_data(m) for m in payload]
    if output is Output.JSON:
        console.print_json(json.dumps(data))
    else:
        console.out(yaml.safe_dump(data, sort_keys=False), end="", highlight=False)


def enum_name(enum_type: Any, value: int) -> str:
    """``STATUS_FAILING`` -> ``failing``; ``RUN_PHASE_COMPLETED`` -> ``completed``."""
    name: str = enum_type.Name(value)
    prefix = _enum_prefix(enum_type)
    return name.removeprefix(prefix).lower() if name.startswith(prefix) else name.lower()


def _enum_prefix(enum_type: Any) -> str:
    names: list[str] = list(enum_type.keys())
    unspecified = next(n for n in names if n.endswith("_UNSPECIFIED"))
    return unspecified.removesuffix("UNSPECIFIED")


def when(ts: timestamp_pb2.Timestamp, present: bool = True) -> str:
    if not present or (ts.seconds == 0 and ts.nanos == 0):
        return "-"
    return ts.ToDatetime(tzinfo=UTC).strftime("%Y-%m-%d %H:%M:%S")


def score(message: Message) -> str:
    return f"{message.score:.1f}" if message.HasField("score") else "-"  # type: ignore[attr-defined]


_STATUS_STYLE = {
    "passing": "green",
    "failing": "red",
    "warning": "yellow",
    "skipped": "dim",
    "error": "magenta",
    "timeout": "magenta",
}
_STATE_STYLE = {
    "completed": "green",
    "partial": "yellow",
    "failed": "red",
    "cancelled": "dim",
    "running": "cyan",
    "queued": "cyan",
    "skipped": "dim",
    "pending": "cyan",
}


def styled(text: str) -> str:
    style = _STATE_STYLE.get(text) or _STATUS_STYLE.get(text)
    return f"[{style}]{text}[/{style}]" if style else text


def obj_ref(ref: cpb.ObjectReference) -> str:
    parts = [ref.kind, ref.namespace, ref.name]
    return "/".join(p for p in parts if p) or "-"


def _paged_table(title: str, shown: int, page: Message) -> Table:
    """A table titled with how many rows it shows (of how many, when the page says), and
    the token of the next page as its caption."""
    total = page.total_size if page.HasField("total_size") else None  # type: ignore[attr-defined]
    count = f"{shown} of {total}" if total is not None else f"{shown}"
    token: str = page.next_page_token  # type: ignore[attr-defined]
    caption = f"more: --page-token {token}" if token else None
    return Table(title=f"{title} ({count})", caption=caption, caption_justify="left")


def results_table(page: apb.ListAssessmentsResponse) -> Table:
    results = page.results
    title = f"Assessment results of {page.run_id}" if page.run_id else "Assessment results"
    table = _paged_table(title, len(results), page)
    for column in ("ID", "Check", "Pillar", "Status", "Severity", "Object", "Message"):
        table.add_column(column, overflow="fold")
    for r in results:
        table.add_row(
            r.id,
            r.check_id,
            enum_name(cpb.Pillar, r.pillar),
            styled(enum_name(cpb.Status, r.status)),
            enum_name(cpb.Severity, r.severity),
            obj_ref(r.object) + (f" [{r.container}]" if r.container else ""),
            r.message,
        )
    return table


def result_table(r: apb.AssessmentResult) -> Table:
    table = Table(title=f"Assessment {r.id}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    rows = [
        ("Run", r.run_id),
        ("Check", f"{r.check_id} {r.check_name}"),
        ("Pillar", enum_name(cpb.Pillar, r.pillar)),
        ("Status", styled(enum_name(cpb.Status, r.status)) + (" (exempt)" if r.exempted else "")),
        ("Severity", enum_name(cpb.Severity, r.severity)),
        ("Object", obj_ref(r.object)),
        ("Container", r.container or "-"),
        ("Message", r.message),
        ("Remediation", r.remediation),
        ("Assessed at", when(r.assessed_at)),
        ("Duration", f"{r.duration_ms} ms"),
    ]
    for field, value in rows:
        table.add_row(field, value)
    return table


_COUNT_FIELDS = ("passing", "failing", "warning", "skipped", "error", "timeout")


def _counts_cells(counts: cpb.StatusCounts) -> list[str]:
    """One cell per status; skipped results an exemption made so are counted apart."""
    cells = [str(getattr(counts, f)) for f in _COUNT_FIELDS]
    if counts.exempted:
        cells[_COUNT_FIELDS.index("skipped")] += f" ({counts.exempted} exempt)"
    return cells


def summary_table(summary: apb.Summary) -> Table:
    title = f"Summary of run {summary.run_id}" if summary.run_id else "Summary"
    table = Table(title=f"{title} (score {score(summary)})")
    table.add_column("Pillar", no_wrap=True)
    for f in _COUNT_FIELDS:
        table.add_column(f.capitalize(), justify="right")
    table.add_column("Score", justify="right")
    for p in summary.pillars:
        table.add_row(enum_name(cpb.Pillar, p.pillar), *_counts_cells(p.counts), score(p))
    table.add_row("[bold]total[/bold]", *_counts_cells(summary.counts), score(summary))
    return table


def history_table(page: apb.GetHistoryResponse) -> Table:
    entries = page.entries
    table = _paged_table("History", len(entries), page)
    table.add_column("Run")
    table.add_column("Completed")
    table.add_column("State")
    for f in _COUNT_FIELDS:
        table.add_column(f.capitalize(), justify="right")
    table.add_column("Score", justify="right")
    for e in entries:
        table.add_row(
            e.run_id,
            when(e.completed_at),
            styled(enum_name(apb.RunPhase, e.state)),
            *_counts_cells(e.counts),
            score(e),
        )
    return table


def runs_table(page: apb.ListRunsResponse) -> Table:
    runs = page.runs
    table = _paged_table("Runs", len(runs), page)
    for column in ("Run", "State", "Scope", "Requested", "Checks", "Failing", "Score"):
        table.add_column(column)
    for r in runs:
        table.add_row(
            r.run_id,
            styled(enum_name(apb.RunPhase, r.state)),
            _scope(r),
            when(r.requested_at),
            str(r.check_count),
            str(r.counts.failing),
            score(r),
        )
    return table


def _scope(r: apb.RunState) -> str:
    scope = enum_name(apb.RunScope, r.scope)
    if r.check_id:
        return f"{scope}: {r.check_id}"
    if r.pillars:
        return f"{scope}: " + ",".join(enum_name(cpb.Pillar, p) for p in r.pillars)
    return scope


def run_table(r: apb.RunState) -> Table:
    table = Table(title=f"Run {r.run_id}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    rows = [
        ("State", styled(enum_name(apb.RunPhase, r.state))),
        ("Scope", _scope(r)),
        ("Source", enum_name(apb.InventorySource, r.source)),
        ("Cluster", r.cluster_id or "-"),
        ("Requested", when(r.requested_at)),
        ("Started", when(r.started_at)),
        ("Completed", when(r.completed_at)),
        ("Checks", str(r.check_count)),
        ("Results", " ".join(f"{f}={getattr(r.counts, f)}" for f in _COUNT_FIELDS)),
        ("Score", score(r)),
    ]
    if r.error:
        rows.append(("Error", f"[red]{r.error}[/red]"))
    rows.extend(("Input error", d) for d in r.diagnostics)
    for field, value in rows:
        table.add_row(field, value)
    return table


def checks_table(checks: Sequence[apb.CheckDefinition]) -> Table:
    table = Table(title=f"Checks ({len(checks)})")
    for column in ("ID", "Pillar", "Severity", "Scope", "Name"):
        table.add_column(column, overflow="fold")
    for c in checks:
        table.add_row(
            c.id,
            enum_name(cpb.Pillar, c.pillar),
            enum_name(cpb.Severity, c.severity),
            c.scope,
            c.name,
        )
    return table


def workflows_table(executions: Sequence[wpb.WorkflowExecution], total: int) -> Table:
    table = Table(title=f"Workflow executions ({len(executions)} of {total})")
    for column in ("Namespace", "Name", "Phase", "Workflow", "Target", "Reason", "Age"):
        table.add_column(column, overflow="fold")
    now = datetime.now(UTC)
    for e in executions:
        table.add_row(
            e.namespace,
            e.name,
            styled(enum_name(wpb.WorkflowPhase, e.status.phase)),
            f"{e.spec.workflow_ref.workflow_id}@{e.spec.workflow_ref.version}",
            e.spec.target_resource,
            workflow_reason(e),
            _age(e.creation_time, now),
        )
    return table


def workflow_reason(e: wpb.WorkflowExecution) -> str:
    if e.status.HasField("skip_details"):
        return enum_name(wpb.SkipReason, e.status.skip_details.reason)
    if e.status.HasField("failure_details"):
        return enum_name(wpb.FailureReason, e.status.failure_details.reason)
    return ""


def workflow_table(e: wpb.WorkflowExecution) -> Table:
    table = Table(title=f"WorkflowExecution {e.namespace}/{e.name}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    status = e.status
    rows = [
        ("Phase", styled(enum_name(wpb.WorkflowPhase, status.phase))),
        ("Workflow", f"{e.spec.workflow_ref.workflow_id}@{e.spec.workflow_ref.version}"),
        ("Bundle", e.spec.workflow_ref.container_image),
        ("Target", e.spec.target_resource),
        ("Started", when(status.start_time)),
        ("Completed", when(status.completion_time)),
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
        rows.append(("Failure", f"{workflow_reason(e)}: {failure.natural_language_summary}"))
        rows.append(("Failed step", f"{failure.failed_task_name}/{failure.failed_step_name}"))
        rows.append(("Exit code", str(failure.exit_code)))
    for field, value in rows:
        table.add_row(field, value)
    return table


def audit_table(page: wpb.ListAuditEventsResponse) -> Table:
    events = page.events
    table = _paged_table("Audit events", len(events), page)
    for column in ("When", "Event", "Execution", "Workflow", "Target", "Phase", "Reason"):
        table.add_column(column, overflow="fold")
    for ev in events:
        table.add_row(
            when(ev.occurred_at),
            enum_name(wpb.AuditEventType, ev.event_type),
            f"{ev.execution_namespace}/{ev.execution_name}",
            f"{ev.workflow_id}@{ev.workflow_version}",
            ev.target_resource,
            enum_name(wpb.WorkflowPhase, ev.phase),
            ev.reason,
        )
    return table


def _age(ts: timestamp_pb2.Timestamp, now: datetime) -> str:
    if ts.seconds == 0:
        return "-"
    seconds = int((now - ts.ToDatetime(tzinfo=UTC)).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"
