"""``assay workflows create|get|list|watch|audit``: WorkflowExecutions over gRPC."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from google.protobuf import duration_pb2, json_format

from assay.client import formatters as fmt
from assay.client.cli import common
from assay.client.formatters import Output
from assay.v1 import workflow_pb2 as wpb

app = typer.Typer(help="Remediation workflow executions.", no_args_is_help=True)

NamespaceOpt = Annotated[
    str, typer.Option("--namespace", "-n", help="Namespace of the WorkflowExecution.")
]
OutputOpt = common.OutputOpt
DEFAULT_NAMESPACE = "kubernaut-workflows"

PHASES: dict[str, wpb.WorkflowPhase.ValueType] = fmt.enum_values(wpb.WorkflowPhase)
AUDIT_TYPES: dict[str, wpb.AuditEventType.ValueType] = fmt.enum_values(wpb.AuditEventType)
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def _duration(text: str) -> duration_pb2.Duration:
    """``1h30m``, ``45m``, ``90s`` as in Kubernetes/Go durations."""
    match = _DURATION.match(text.strip())
    if not text.strip() or match is None:
        raise typer.BadParameter(f"{text!r} is not a duration like 30m, 1h30m or 90s")
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return duration_pb2.Duration(seconds=hours * 3600 + minutes * 60 + seconds)


def _spec_from_manifest(path: Path) -> tuple[str, str, wpb.WorkflowExecutionSpec]:
    """Namespace, name and spec of a WorkflowExecution manifest.

    The CRD's camelCase spec is the proto JSON form of WorkflowExecutionSpec except for the
    Go-style ``executionConfig.timeout``, so it is parsed strictly: a misspelt field is an
    error here, not a silently dropped setting.
    """
    try:
        doc: Any = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise typer.BadParameter(f"cannot read {path}: {error}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("spec"), dict):
        raise typer.BadParameter(f"{path} is not a WorkflowExecution manifest (no spec)")
    meta = doc.get("metadata") or {}
    raw = dict(doc["spec"])
    config = raw.get("executionConfig")
    if isinstance(config, dict) and "timeout" in config:
        timeout = _duration(str(config["timeout"]))
        raw["executionConfig"] = {**config, "timeout": timeout.ToJsonString()}
    try:
        spec = json_format.ParseDict(raw, wpb.WorkflowExecutionSpec())
    except json_format.ParseError as error:
        raise typer.BadParameter(f"{path}: {error}") from None
    return str(meta.get("namespace", "")), str(meta.get("name", "")), spec


@app.command("create")
def create(
    ctx: typer.Context,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="WorkflowExecution manifest (YAML/JSON).")
    ] = None,
    namespace: NamespaceOpt = DEFAULT_NAMESPACE,
    name: Annotated[str, typer.Option("--name", help="Name; generated when empty.")] = "",
    workflow_id: Annotated[str, typer.Option("--workflow-id")] = "",
    version: Annotated[str, typer.Option("--version")] = "",
    image: Annotated[str, typer.Option("--image", help="OCI bundle of the pipeline.")] = "",
    digest: Annotated[str, typer.Option("--digest", help="sha256:... of the bundle.")] = "",
    target: Annotated[str, typer.Option("--target", help="namespace/kind/name or kind/name.")] = "",
    param: Annotated[
        list[str] | None, typer.Option("--param", help="KEY=VALUE (repeatable).")
    ] = None,
    confidence: Annotated[float | None, typer.Option("--confidence", help="0..1.")] = None,
    rationale: Annotated[str, typer.Option("--rationale")] = "",
    timeout: Annotated[str, typer.Option("--timeout", help="Pipeline timeout, e.g. 30m.")] = "",
    service_account: Annotated[str, typer.Option("--service-account")] = "",
    output: OutputOpt = Output.TABLE,
) -> None:
    """Create a WorkflowExecution (from a manifest file or from flags)."""
    if file is not None:
        file_ns, file_name, spec = _spec_from_manifest(file)
        namespace = file_ns or namespace
        name = name or file_name
    else:
        params: dict[str, str] = {}
        for item in param or []:
            key, sep, value = item.partition("=")
            if not sep:
                raise typer.BadParameter(f"--param {item!r} is not KEY=VALUE")
            params[key] = value
        spec = wpb.WorkflowExecutionSpec(
            workflow_ref=wpb.WorkflowRef(
                workflow_id=workflow_id,
                version=version,
                container_image=image,
                container_digest=digest,
            ),
            target_resource=target,
            parameters=params,
            rationale=rationale,
        )
        if confidence is not None:
            spec.confidence = confidence
        if timeout:
            spec.execution_config.timeout.CopyFrom(_duration(timeout))
        if service_account:
            spec.execution_config.service_account_name = service_account
    request = wpb.CreateRequest(namespace=namespace, name=name, spec=spec)
    with common.connect(ctx) as client:
        execution = client.create_workflow(request)
    fmt.emit(
        common.state(ctx).console,
        output,
        execution,
        fmt.workflow_table,
    )


@app.command("get")
def get(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="WorkflowExecution name.")],
    namespace: NamespaceOpt = DEFAULT_NAMESPACE,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Show one WorkflowExecution."""
    with common.connect(ctx) as client:
        execution = client.get_workflow(namespace, name)
    fmt.emit(
        common.state(ctx).console,
        output,
        execution,
        fmt.workflow_table,
    )


@app.command("list")
def list_(
    ctx: typer.Context,
    namespace: Annotated[
        str, typer.Option("--namespace", "-n", help="Namespace; empty for all.")
    ] = "",
    phase: Annotated[
        list[str] | None, typer.Option("--phase", help="Phase (repeatable or comma list).")
    ] = None,
    target: Annotated[str, typer.Option("--target")] = "",
    workflow_id: Annotated[str, typer.Option("--workflow-id")] = "",
    limit: Annotated[int | None, typer.Option("--limit")] = None,
    offset: Annotated[int, typer.Option("--offset")] = 0,
    output: OutputOpt = Output.TABLE,
) -> None:
    """List WorkflowExecutions."""
    request = wpb.ListRequest(
        namespace=namespace,
        phases=common.choices("phase", phase, PHASES),
        target_resource=target,
        workflow_id=workflow_id,
        offset=offset,
    )
    common.paged(request, limit=limit)
    with common.connect(ctx) as client:
        page = client.list_workflows(request)
    fmt.emit(
        common.state(ctx).console,
        output,
        page,
        fmt.workflows_table,
    )


@app.command("watch")
def watch(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Only this execution; all when omitted.")] = "",
    namespace: Annotated[str, typer.Option("--namespace", "-n")] = "",
    until_done: Annotated[
        bool,
        typer.Option("--until-done", help="With a name: stop when the execution is terminal."),
    ] = True,
) -> None:
    """Print phase changes as they happen (Ctrl-C stops)."""
    st = common.state(ctx)
    terminal = {wpb.WORKFLOW_PHASE_COMPLETED, wpb.WORKFLOW_PHASE_FAILED, wpb.WORKFLOW_PHASE_SKIPPED}
    with common.connect(ctx) as client:
        try:
            for change in client.watch_workflows(wpb.WatchRequest(namespace=namespace, name=name)):
                stamp = datetime.now(UTC).strftime("%H:%M:%S")
                st.console.print(fmt.watch_line(change, stamp), soft_wrap=True)
                if name and until_done and change.execution.status.phase in terminal:
                    return
        except KeyboardInterrupt:
            raise typer.Exit(0) from None


@app.command("audit")
def audit(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--execution", help="Only this execution.")] = "",
    namespace: Annotated[str, typer.Option("--namespace", "-n")] = "",
    target: Annotated[str, typer.Option("--target")] = "",
    event_type: Annotated[str, typer.Option("--type", help="e.g. skipped, failed.")] = "",
    since: Annotated[str | None, typer.Option("--since")] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="Page size, 1..1000 (50).")] = None,
    page_token: Annotated[
        str | None, typer.Option("--page-token", help="Continue after a page (same filters).")
    ] = None,
    all_pages: Annotated[bool, typer.Option("--all", help="Fetch every page.")] = False,
    total: Annotated[bool, typer.Option("--total", help="Count every match.")] = False,
    output: OutputOpt = Output.TABLE,
) -> None:
    """The audit trail of workflow executions, oldest first."""
    types = common.choices("event type", [event_type] if event_type else None, AUDIT_TYPES)
    request = wpb.ListAuditEventsRequest(
        namespace=namespace,
        execution_name=name,
        target_resource=target,
        event_type=types[0] if types else wpb.AUDIT_EVENT_TYPE_UNSPECIFIED,
    )
    common.token_paged(request, limit=limit, page_token=page_token, total=total, since_text=since)
    with common.connect(ctx) as client:
        page = common.pages(request, client.list_audit_events, "events", follow=all_pages)
    fmt.emit(common.state(ctx).console, output, page, fmt.audit_table)
