"""The formatters on synthetic messages: widths, literal server strings, plain data."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
import yaml
from google.protobuf import message_factory, timestamp_pb2
from google.protobuf.descriptor import Descriptor, EnumDescriptor
from google.protobuf.message import Message
from rich.console import Console

from assay.client import formatters as fmt
from assay.client.cli import common, outcome, run, workflows
from assay.client.formatters import Output
from assay.v1 import assessment_pb2 as apb
from assay.v1 import common_pb2 as cpb
from assay.v1 import workflow_pb2 as wpb
from tests.unit.client.tables import column

RUN_ID = "run_20260216T103045_123456_a7f3b9c2"
RESULT_ID = "asm_20260216_103045_sec001_a7f3b9"
MARKUP = ["evil[/bold]name", "[reindex]", "[red]boom[/red]", "[link=https://x.test]y[/link]"]
EMOJI = ":warning:"


def ts(seconds: int = 1_771_237_845) -> timestamp_pb2.Timestamp:  # 2026-02-16T10:30:45Z
    return timestamp_pb2.Timestamp(seconds=seconds)


def result(i: int = 0, **fields: Any) -> apb.AssessmentResult:
    defaults: dict[str, Any] = {
        "id": f"asm_20260216_103045_sec001_{i:06x}",
        "run_id": RUN_ID,
        "pillar": cpb.PILLAR_SECURITY,
        "check_id": "SEC-001",
        "check_name": "Privileged container",
        "status": cpb.STATUS_FAILING,
        "severity": cpb.SEVERITY_CRITICAL,
        "object": cpb.ObjectReference(kind="Deployment", namespace="shop", name=f"web-{i}"),
        "container": "app",
        "message": "container is privileged: securityContext.privileged is true and the "
        "process can reach every device of the node it runs on",
        "remediation": "Remove securityContext.privileged.",
        "assessed_at": ts(),
        "duration_ms": 3,
    }
    return apb.AssessmentResult(**(defaults | fields))


def page(*results: apb.AssessmentResult) -> apb.ListAssessmentsResponse:
    return apb.ListAssessmentsResponse(results=results, run_id=RUN_ID)


def render(
    payload: Message | Sequence[Message],
    table: Callable[[Any, bool], Any],
    width: int,
    output: Output = Output.TABLE,
) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, force_terminal=False)
    fmt.emit(console, output, payload, table)
    return buffer.getvalue()


# --- widths --------------------------------------------------------------------------------


def test_results_at_80_columns_keep_the_message_readable() -> None:
    listing = page(*(result(i) for i in range(3)))
    out = render(listing, fmt.results_table, 80)
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert lines[1].split() == ["STATUS", "SEVERITY", "CHECK", "OBJECT", "MESSAGE"]
    message_at = lines[1].index("MESSAGE")
    assert message_at <= 50  # the message has at least 30 columns
    # the message wraps at spaces: every word whole, in order, in the message column
    words = [w for line in lines[2:] for w in line[message_at:].split()]
    assert " ".join(words) == " ".join([result().message] * 3)
    assert lines[2].split()[:3] == ["failing", "critical", "SEC-001"]
    assert all(line == line.rstrip() for line in lines)


def test_results_at_200_columns_are_one_line_each() -> None:
    listing = page(*(result(i) for i in range(3)))
    out = render(listing, fmt.results_table, 200)
    lines = out.splitlines()
    assert len(lines) == 2 + 3
    assert lines[2].startswith("failing  critical  SEC-001  Deployment shop/web-0 (app)  container")
    assert lines[2].endswith("every device of the node it runs on")


def test_a_long_object_name_does_not_squeeze_the_message() -> None:
    long_name = "a-deployment-whose-name-goes-on-for-a-long-while-" * 2 + "end"
    listing = page(result(object=cpb.ObjectReference(kind="Deployment", name=long_name)))
    out = render(listing, fmt.results_table, 80)
    lines = out.splitlines()
    start, end = lines[1].index("OBJECT"), lines[1].index("MESSAGE")
    assert end - start <= 22  # the object takes at most a quarter of the width
    assert max(len(line) for line in lines) <= 80
    shown = "".join(line[start:end].replace(" ", "") for line in lines[2:])
    assert shown == f"Deployment{long_name}(app)"  # folded, nothing lost


def test_wide_is_one_line_per_row_with_every_column_and_full_ids() -> None:
    listing = page(*(result(i) for i in range(2)))
    out = render(listing, fmt.results_table, 80, Output.WIDE)
    lines = out.splitlines()
    assert len(lines) == 2 + 2
    assert lines[1].split() == [
        "ID", "RUN", "STATUS", "SEVERITY", "CHECK", "PILLAR", "OBJECT", "CONTAINER", "MESSAGE",
        "REMEDIATION", "ASSESSED",
    ]  # fmt: skip
    assert lines[2].startswith(
        f"asm_20260216_103045_sec001_000000  {RUN_ID}  failing  critical  SEC-001  security"
    )
    assert "2026-02-16T10:30:45Z" in lines[2] and "app" in lines[2]
    assert all(line == line.rstrip() for line in lines)


def test_tables_shorten_ids_and_say_so() -> None:
    runs = apb.ListRunsResponse(
        runs=[
            apb.RunState(
                run_id=RUN_ID,
                state=apb.RUN_PHASE_COMPLETED,
                scope=apb.RUN_SCOPE_PILLAR,
                pillars=[cpb.PILLAR_SECURITY, cpb.PILLAR_PERFORMANCE_EFFICIENCY],
                requested_at=ts(),
                check_count=40,
            )
        ]
    )
    out = render(runs, fmt.runs_table, 80)
    assert "a7f3b9c2  completed  pillar: security," in out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert RUN_ID not in out and fmt.SHORT_IDS_NOTE in out
    wide = render(runs, fmt.runs_table, 80, Output.WIDE)
    assert RUN_ID in wide and fmt.SHORT_IDS_NOTE not in wide
    assert "2026-02-16T10:30:45Z" in wide


@pytest.mark.parametrize(
    ("value", "short"),
    [
        (RUN_ID, "a7f3b9c2"),
        (RESULT_ID, "a7f3b9"),
        ("run_a", "run_a"),  # not the server's format: whole
        ("asm_x_sec001_zzzzzz", "asm_x_sec001_zzzzzz"),
    ],
)
def test_short_id(value: str, short: str) -> None:
    assert fmt.short_id(value) == short


def test_summary_fits_80_columns_with_every_pillar() -> None:
    counts = cpb.StatusCounts(
        passing=12345, failing=6789, warning=12, skipped=30, exempted=4, error=1, timeout=2
    )
    summary = apb.Summary(
        run_id=RUN_ID,
        counts=counts,
        score=64.5,
        pillars=[
            apb.PillarCounts(pillar=p, counts=counts, score=50.0) for p in cpb.Pillar.values() if p
        ],
    )
    out = render(summary, fmt.summary_table, 80)
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert len(lines) == 2 + 6 + 1  # title, header, a line per pillar, the total
    assert lines[1].split() == [
        "PILLAR", "PASS", "FAIL", "WARN", "SKIP", "EXEMPT", "ERROR", "TIMEOUT", "SCORE",
    ]  # fmt: skip
    assert "operational_excellence" in out


# --- server strings as text ----------------------------------------------------------------


def _hostile(text: str) -> apb.AssessmentResult:
    return result(
        check_id=f"SEC-{text}",
        object=cpb.ObjectReference(kind="Pod", namespace="ns", name=f"n{text}"),
        container=text,
        message=f"value {text} {EMOJI} quoted",
        remediation=f"fix {text}",
    )


@pytest.mark.parametrize("text", MARKUP)
@pytest.mark.parametrize("width", [80, 200])
@pytest.mark.parametrize("output", [Output.TABLE, Output.WIDE])
def test_markup_in_server_strings_is_printed_literally(
    text: str, width: int, output: Output
) -> None:
    listing = page(_hostile(text))
    listing.run_id = f"run{text}"
    out = render(listing, fmt.results_table, width, output)
    assert f"run{text}" in out
    message = column(out, "MESSAGE", "REMEDIATION" if output is Output.WIDE else None)
    assert message.replace(" ", "") == f"value{text}{EMOJI}quoted"  # long words fold at 80
    if width == 200:
        assert f"SEC-{text}" in out and f"ns/n{text}" in out
    detail = _hostile(text)
    out = render(detail, fmt.result_table, width, output)
    assert f"value {text} {EMOJI} quoted" in " ".join(out.split())


def test_control_characters_are_made_visible() -> None:
    hostile = result(message="a\x1b[2Jb\x07c\u202eedoc\x00d\te")
    out = render(hostile, fmt.result_table, 200)
    assert "a\\x1b[2Jb\\x07c\\u202eedoc\\x00d" in out
    assert "\x1b" not in out and "\u202e" not in out and "\x00" not in out
    assert fmt.printable("tab\tand\nnewline stay") == "tab\tand\nnewline stay"


def test_every_view_prints_hostile_strings_literally() -> None:
    """Each table builder at 80 and 200 columns, table and wide, with markup in every
    string field of its message: printed, never interpreted."""
    text = "[bold]zq[/bold]"
    messages: list[tuple[Any, Callable[[Any, bool], Any]]] = []
    run_state = _filled(apb.RunState(), text)
    messages.append((run_state, fmt.run_table))
    runs = apb.ListRunsResponse(runs=[run_state], next_page_token=text)
    messages.append((runs, fmt.runs_table))
    summary = _filled(apb.Summary(), text)
    messages.append((summary, fmt.summary_table))
    history = apb.GetHistoryResponse(entries=[_filled(apb.HistoryEntry(), text)])
    messages.append((history, fmt.history_table))
    check = _filled(apb.CheckDefinition(), text)
    messages.append(([check], fmt.checks_table))
    execution = _filled(wpb.WorkflowExecution(), text)
    execution.status.ClearField("skip_details")  # a failed execution: the failure shows
    messages.append((execution, fmt.workflow_table))
    executions = wpb.ListResponse(executions=[execution], total_count=1)
    messages.append((executions, fmt.workflows_table))
    audit = wpb.ListAuditEventsResponse(events=[_filled(wpb.AuditEvent(), text)])
    messages.append((audit, fmt.audit_table))
    for message, table in messages:
        for width in (80, 200):
            for output in (Output.TABLE, Output.WIDE):
                out = render(message, table, width, output)
                where = (type(message).__name__, width, output)
                assert "[bold]" in out, where
                if width == 200 or output is Output.WIDE:  # nothing folded: every one whole
                    assert out.count("zq") == out.count(text), where
    change = wpb.WatchResponse(execution=execution, previous_phase=wpb.WORKFLOW_PHASE_RUNNING)
    buffer = io.StringIO()
    Console(file=buffer, width=200, color_system=None).print(fmt.watch_line(change, "10:30:45"))
    assert f"10:30:45 {text}/{text} running -> failed" in buffer.getvalue()


def _filled(message: Message, text: str) -> Any:
    """``message`` with every string field (nested too) set to ``text`` and each enum to its
    second value; a failed, not skipped, workflow."""
    for field in message.DESCRIPTOR.fields:
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            getattr(message, field.name)[text] = text
        elif field.type == field.TYPE_STRING:
            if field.is_repeated:
                getattr(message, field.name).append(text)
            else:
                setattr(message, field.name, text)
        elif field.enum_type is not None:
            value = 4 if field.enum_type.name == "WorkflowPhase" else 1
            if field.is_repeated:
                getattr(message, field.name).append(value)
            else:
                setattr(message, field.name, value)
        elif field.message_type is not None and field.message_type.full_name.startswith("assay."):
            if field.is_repeated:
                _filled(getattr(message, field.name).add(), text)
            else:
                _filled(getattr(message, field.name), text)
    return message


# --- plain data ----------------------------------------------------------------------------


def test_json_and_yaml_print_values_as_users_write_them() -> None:
    r = result(pillar=cpb.PILLAR_PERFORMANCE_EFFICIENCY, severity=cpb.SEVERITY_HIGH)
    data = fmt.to_data(r)
    assert data == {
        "id": "asm_20260216_103045_sec001_000000",
        "run_id": RUN_ID,
        "pillar": "performance_efficiency",
        "check_id": "SEC-001",
        "check_name": "Privileged container",
        "status": "failing",
        "severity": "high",
        "object": {
            "kind": "Deployment",
            "namespace": "shop",
            "name": "web-0",
            "api_version": "",
            "uid": "",
        },
        "container": "app",
        "message": r.message,
        "remediation": "Remove securityContext.privileged.",
        "assessed_at": "2026-02-16T10:30:45Z",
        "duration_ms": 3,  # an int64: a number, not the proto JSON string
        "exempted": False,
        "origin": None,  # unset message fields are null
    }
    as_json = json.loads(render(r, fmt.result_table, 80, Output.JSON))
    as_yaml = yaml.safe_load(render(r, fmt.result_table, 80, Output.YAML))
    assert as_json == as_yaml == data


def test_unset_fields_are_null_and_set_ones_keep_their_type() -> None:
    running = fmt.to_data(apb.RunState(run_id=RUN_ID, state=apb.RUN_PHASE_RUNNING))
    assert running["completed_at"] is None and running["score"] is None
    assert running["state"] == "running" and running["pillars"] == []
    assert running["counts"] is None
    done = fmt.to_data(apb.RunState(score=0.0, completed_at=ts(), counts=cpb.StatusCounts()))
    assert done["score"] == 0.0 and done["completed_at"] == "2026-02-16T10:30:45Z"
    assert done["counts"]["failing"] == 0


def test_maps_structs_and_durations() -> None:
    event = wpb.AuditEvent(event_type=wpb.AUDIT_EVENT_TYPE_LOCK_RELEASED)
    event.payload.update({"exit": 1, "steps": ["a", "b"], "nested": {"ok": True}})
    data = fmt.to_data(event)
    assert data["event_type"] == "lock_released"
    assert data["payload"] == {"exit": 1, "steps": ["a", "b"], "nested": {"ok": True}}
    spec = wpb.WorkflowExecutionSpec(parameters={"REPLICAS": "2"})
    spec.execution_config.timeout.FromSeconds(1800)
    data = fmt.to_data(spec)
    assert data["parameters"] == {"REPLICAS": "2"}
    assert data["execution_config"]["timeout"] == "1800s"
    assert data["confidence"] is None


def test_an_enum_value_this_client_does_not_know_stays_a_number() -> None:
    data = fmt.to_data(apb.AssessmentResult(status=42))  # type: ignore[arg-type]
    assert data["status"] == "42"


def _enum_fields() -> Iterator[tuple[Descriptor, str, EnumDescriptor]]:
    for module in (apb, cpb, wpb):
        for message in module.DESCRIPTOR.message_types_by_name.values():
            for field in message.fields:
                if field.enum_type is not None:
                    yield message, field.name, field.enum_type


# The filter that takes each enum's names, as the CLI parses them.
FILTERS: dict[str, Callable[[str], list[int]]] = {
    "Pillar": lambda name: list(common.pillars([name])),
    "Status": lambda name: list(common.statuses([name])),
    "Severity": lambda name: [common.SEVERITIES[outcome.SeverityChoice(name).value]],
    "RunPhase": lambda name: list(common.run_phases([name])),
    "InventorySource": lambda name: [
        fmt.enum_values(apb.InventorySource)[run.SourceChoice(name).value]
    ],
    "WorkflowPhase": lambda name: list(common.choices("phase", [name], workflows.PHASES)),
    "AuditEventType": lambda name: list(
        common.choices("event type", [name], workflows.AUDIT_TYPES)
    ),
}


def test_every_enum_value_printed_is_accepted_by_its_filter() -> None:
    """Round trip: each value of each enum field of every message, printed by to_data, is a
    lower-case name without the prefix, and the matching CLI filter parses it back."""
    seen: set[str] = set()
    for message_type, field_name, enum_type in _enum_fields():
        cls = _message_class(message_type)
        for value in enum_type.values:
            if value.number == 0:
                continue
            message = cls()
            target = getattr(message, field_name)
            if hasattr(target, "append"):
                target.append(value.number)
            else:
                setattr(message, field_name, value.number)
            printed = fmt.to_data(message)[field_name]
            name = printed[0] if isinstance(printed, list) else printed
            assert name == name.lower() and not name.startswith(enum_type.name.upper())
            assert enum_type.values_by_name[value.name].number == value.number
            if enum_type.name in FILTERS:
                assert FILTERS[enum_type.name](name) == [value.number], (enum_type.name, name)
                seen.add(enum_type.name)
    assert seen == set(FILTERS)


def _message_class(descriptor: Descriptor) -> type[Message]:
    return message_factory.GetMessageClass(descriptor)


def test_enum_values_is_the_table_the_filters_share() -> None:
    assert fmt.enum_values(cpb.Status) == common.STATUSES
    assert list(common.SEVERITIES) == [c.value for c in outcome.SeverityChoice]
    assert fmt.enum_values(cpb.Pillar)["performance_efficiency"] == (
        cpb.PILLAR_PERFORMANCE_EFFICIENCY
    )
    assert common.pillars(["performance-efficiency", "perf"]) == [cpb.PILLAR_PERFORMANCE_EFFICIENCY]


def test_nothing_prints_an_enum_prefix() -> None:
    listing = page(result(), result(1, status=cpb.STATUS_SKIPPED, exempted=True))
    for output in Output:
        out = render(listing, fmt.results_table, 200, output)
        for prefix in ("STATUS_", "PILLAR_", "SEVERITY_"):
            assert prefix not in out


def test_a_list_of_messages_prints_as_a_list() -> None:
    checks = [apb.CheckDefinition(id="SEC-001", pillar=cpb.PILLAR_SECURITY, kinds=["Pod"])]
    out = render(checks, fmt.checks_table, 80, Output.JSON)
    [data] = json.loads(out)
    assert data["pillar"] == "security" and data["kinds"] == ["Pod"]
