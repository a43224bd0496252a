"""``assay scan -o sarif``: a SARIF 2.1.0 log for code scanning (GitHub, GitLab, IDEs).

One run of one tool. The driver has one rule per check the scan ran (its name, its
description and remediation as help, a default level and a ``security-severity`` from its
severity); each failing or warning result is a result of its rule, located by the file and
line its object was read from (when known) and, always, by the object itself as a logical
location (``Kind/namespace/name``, and the container). Checks that errored or timed out are
tool execution notifications and make the invocation unsuccessful; input problems (a file
that does not parse) are notifications too. Valid with zero results.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from collections.abc import Sequence
from pathlib import PurePath
from typing import Any
from urllib.parse import quote

from assay.client.report.compare import identity
from assay.client.report.grouped import severity_name
from assay.v1 import assessment_pb2 as apb
from assay.v1 import common_pb2 as cpb

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
VERSION = "2.1.0"
SOURCE_ROOT = "SRCROOT"

LEVELS = {
    cpb.SEVERITY_CRITICAL: "error",
    cpb.SEVERITY_HIGH: "error",
    cpb.SEVERITY_MEDIUM: "warning",
    cpb.SEVERITY_LOW: "note",
    cpb.SEVERITY_INFO: "note",
}
"""SARIF level of a failing result, by severity."""

SECURITY_SEVERITY = {
    cpb.SEVERITY_CRITICAL: "9.5",
    cpb.SEVERITY_HIGH: "8.0",
    cpb.SEVERITY_MEDIUM: "5.5",
    cpb.SEVERITY_LOW: "3.0",
    cpb.SEVERITY_INFO: "1.0",
}
"""CVSS-like score GitHub code scanning buckets into critical/high/medium/low."""

_TROUBLED = (cpb.STATUS_ERROR, cpb.STATUS_TIMEOUT)


def sarif_log(
    *,
    checks: Sequence[apb.CheckDefinition],
    results: Sequence[apb.AssessmentResult],
    run: apb.RunState,
    tool_version: str,
    source_root: str | None = None,
    new_only: bool = False,
) -> dict[str, Any]:
    """The log as plain data. ``results`` are the ones to report (failing, warning, error,
    timeout; others are ignored); ``source_root`` the directory relative paths start from
    (default: the working directory); ``new_only`` marks every result ``baselineState: new``
    (the results were filtered against a baseline)."""
    rule_index = {c.id: i for i, c in enumerate(checks)}
    sarif_results: list[dict[str, Any]] = []
    notifications: list[dict[str, Any]] = []
    for r in results:
        if r.status in _TROUBLED:
            notifications.append(_check_trouble(r, rule_index))
        elif r.status in (cpb.STATUS_FAILING, cpb.STATUS_WARNING):
            entry = _result(r, rule_index)
            if new_only:
                entry["baselineState"] = "new"
            sarif_results.append(entry)
    notifications.extend(
        {"level": "warning", "message": {"text": text}} for text in run.diagnostics
    )
    invocation: dict[str, Any] = {
        "executionSuccessful": run.state == apb.RUN_PHASE_COMPLETED
        and not any(r.status in _TROUBLED for r in results),
        "toolExecutionNotifications": notifications,
    }
    if run.error:
        invocation["exitCodeDescription"] = run.error
    root = source_root if source_root is not None else os.getcwd()
    return {
        "$schema": SCHEMA,
        "version": VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "Assay",
                        "version": tool_version,
                        "rules": [_rule(c) for c in checks],
                    }
                },
                "originalUriBaseIds": {SOURCE_ROOT: {"uri": _directory_uri(root)}},
                "invocations": [invocation],
                "results": sarif_results,
                "columnKind": "unicodeCodePoints",
            }
        ],
    }


def _rule(check: apb.CheckDefinition) -> dict[str, Any]:
    help_text = check.description
    if check.remediation:
        help_text = f"{help_text}\n\nRemediation: {check.remediation}".strip()
    pillar = cpb.Pillar.Name(check.pillar).removeprefix("PILLAR_").lower()
    return {
        "id": check.id,
        "name": check.name,
        "shortDescription": {"text": check.name or check.id},
        "fullDescription": {"text": check.description or check.name or check.id},
        "help": {"text": help_text or check.name or check.id},
        "defaultConfiguration": {"level": LEVELS.get(check.severity, "warning")},
        "properties": {
            "security-severity": SECURITY_SEVERITY.get(check.severity, "5.5"),
            "severity": severity_name(check.severity),
            "tags": ["kubernetes", pillar],
            "precision": "high",
        },
    }


def _result(r: apb.AssessmentResult, rule_index: dict[str, int]) -> dict[str, Any]:
    level = "warning" if r.status == cpb.STATUS_WARNING else LEVELS.get(r.severity, "warning")
    entry: dict[str, Any] = {
        "ruleId": r.check_id,
        "level": level,
        "message": {"text": r.message or r.check_name or r.check_id},
        "locations": [_location(r)],
        "partialFingerprints": {"assayFinding/v1": _fingerprint(r)},
        "properties": {"severity": severity_name(r.severity)},
    }
    if r.check_id in rule_index:
        entry["ruleIndex"] = rule_index[r.check_id]
    return entry


def _check_trouble(r: apb.AssessmentResult, rule_index: dict[str, int]) -> dict[str, Any]:
    what = "timed out" if r.status == cpb.STATUS_TIMEOUT else "failed"
    notification: dict[str, Any] = {
        "level": "error",
        "message": {"text": f"check {r.check_id} {what}: {r.message}".rstrip(": ")},
    }
    if r.check_id in rule_index:
        notification["associatedRule"] = {"id": r.check_id, "index": rule_index[r.check_id]}
    return notification


def _location(r: apb.AssessmentResult) -> dict[str, Any]:
    location: dict[str, Any] = {}
    if r.HasField("origin") and r.origin.path and not r.origin.path.startswith("<"):
        physical: dict[str, Any] = {"artifactLocation": _artifact(r.origin.path)}
        if r.origin.line > 0:
            physical["region"] = {"startLine": r.origin.line}
        location["physicalLocation"] = physical
    obj = r.object
    if obj.kind or obj.name:
        qualified = "/".join(p for p in (obj.kind, obj.namespace, obj.name) if p)
        logical: dict[str, Any] = {"name": obj.name or obj.kind, "kind": "resource"}
        if r.container:
            logical = {"name": r.container, "kind": "resource"}
            qualified = f"{qualified}/{r.container}"
        logical["fullyQualifiedName"] = qualified
        location["logicalLocations"] = [logical]
    return location


def _artifact(path: str) -> dict[str, Any]:
    """A file as the scan named it: relative to the source root, or an absolute file URI."""
    pure = PurePath(path)
    if pure.is_absolute():
        return {"uri": pure.as_uri()}
    relative = posixpath.normpath(pure.as_posix())
    return {"uri": quote(relative, safe="/"), "uriBaseId": SOURCE_ROOT}


def _directory_uri(directory: str) -> str:
    uri = PurePath(os.path.abspath(directory)).as_uri()
    return uri if uri.endswith("/") else uri + "/"


def _fingerprint(r: apb.AssessmentResult) -> str:
    """Stable across runs and message changes: the finding's identity."""
    return hashlib.sha256("\x00".join(identity(r)).encode("utf-8")).hexdigest()
