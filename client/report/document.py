"""The ``assay scan -o json|yaml`` report, and reading one back as a baseline.

A report is the run, its summary and its findings (the results that failed, warned, or
could not be assessed), each in the API's JSON mapping; with a baseline it also says how
many findings are new, unchanged and fixed, and lists the fixed ones. Reading a baseline
takes only what a finding's identity and a person need (check, object, container, status,
severity, message, origin) and accepts enum values both as the API writes them
(``STATUS_FAILING``) and as people do (``failing``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from assay.client.formatters import enum_values
from assay.client.report.compare import Comparison
from assay.v1 import assessment_pb2 as apb
from assay.v1 import common_pb2 as cpb

MAX_BASELINE_BYTES = 512 * 1024 * 1024


class BaselineError(ValueError):
    """A baseline file that cannot be read as an ``assay scan -o json`` report."""


def report(
    run: apb.RunState,
    summary: apb.Summary,
    findings: Sequence[apb.AssessmentResult],
    *,
    to_data: Any,
    baseline: Comparison | None = None,
) -> dict[str, Any]:
    """The report as plain data; ``to_data`` maps a message to the CLI's JSON shape."""
    data: dict[str, Any] = {
        "run": to_data(run),
        "summary": to_data(summary),
        "findings": [to_data(r) for r in findings],
    }
    if baseline is not None:
        data["baseline"] = {
            "new": len(baseline.new),
            "unchanged": len(baseline.unchanged),
            "fixed": len(baseline.fixed),
            "fixed_findings": [to_data(r) for r in baseline.fixed],
        }
    return data


def read_baseline(path: Path) -> list[apb.AssessmentResult]:
    """The failing findings of the report at ``path``; BaselineError with one line."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BASELINE_BYTES + 1)
    except OSError as exc:
        raise BaselineError(f"--baseline {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_BASELINE_BYTES:
        raise BaselineError(f"--baseline {path}: larger than {MAX_BASELINE_BYTES} bytes")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BaselineError(f"--baseline {path}: not JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("findings"), list):
        raise BaselineError(
            f"--baseline {path}: not an `assay scan -o json` report (no findings list)"
        )
    found: list[apb.AssessmentResult] = []
    for index, item in enumerate(data["findings"]):
        try:
            result = _result(item)
        except (TypeError, ValueError) as exc:
            raise BaselineError(f"--baseline {path}: findings[{index}]: {exc}") from None
        if result.status == cpb.STATUS_FAILING:
            found.append(result)
    return found


def _result(item: object) -> apb.AssessmentResult:
    if not isinstance(item, Mapping):
        raise TypeError("a finding is an object")
    check_id = _text(item, "check_id")
    if not check_id:
        raise ValueError("check_id is required")
    result = apb.AssessmentResult(
        check_id=check_id,
        check_name=_text(item, "check_name"),
        container=_text(item, "container"),
        message=_text(item, "message"),
        status=cpb.Status.ValueType(_enum(cpb.Status, item.get("status"), "status")),
        severity=cpb.Severity.ValueType(_enum(cpb.Severity, item.get("severity"), "severity")),
    )
    obj = item.get("object")
    if obj is not None:
        if not isinstance(obj, Mapping):
            raise TypeError("object is an object")
        result.object.kind = _text(obj, "kind")
        result.object.namespace = _text(obj, "namespace")
        result.object.name = _text(obj, "name")
    origin = item.get("origin")
    if isinstance(origin, Mapping):
        result.origin.path = _text(origin, "path")
        line = origin.get("line", 0)
        result.origin.line = line if isinstance(line, int) and 0 <= line < 2**31 else 0
    return result


def _text(data: Mapping[str, object], key: str) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise TypeError(f"{key} is a string")
    return value


def _enum(enum_type: Any, value: object, key: str) -> int:
    """``STATUS_FAILING``, ``failing`` or the number; 0 when absent."""
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        if value in enum_type.values():
            return value
    elif isinstance(value, str):
        text = value.strip()
        number = enum_values(enum_type).get(text.lower())
        if number is None and text.upper() in enum_type.keys():  # noqa: SIM118 (an enum wrapper, not a dict)
            number = enum_type.Value(text.upper())
        if number is not None:
            return int(number)
    raise ValueError(f"{key}: unknown value {value!r}")
