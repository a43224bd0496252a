"""``assay scan -o junit``: JUnit XML, as CI systems (GitLab, Jenkins) read test reports.

One test suite per check, one test case per result, i.e. per (check, object, container):
failing results are failures, errors and timeouts are errors, skipped results (exemptions
included) are skipped; passing and warning results pass, a warning's message in the case's
output. Text from manifests is stripped of characters XML 1.0 cannot hold.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Sequence

from assay.client.report.grouped import location_text, object_text, severity_name
from assay.v1 import assessment_pb2 as apb
from assay.v1 import common_pb2 as cpb

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def junit_xml(results: Sequence[apb.AssessmentResult], *, name: str = "assay") -> bytes:
    """The report as UTF-8 bytes, with its XML declaration."""
    by_check: dict[str, list[apb.AssessmentResult]] = defaultdict(list)
    for r in results:
        by_check[r.check_id].append(r)
    root = ET.Element("testsuites", name=_clean(name))
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for check_id in sorted(by_check):
        found = by_check[check_id]
        suite = ET.SubElement(root, "testsuite", name=_clean(f"{check_id} {found[0].check_name}"))
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        seconds = 0.0
        for r in found:
            counts["tests"] += 1
            seconds = max(seconds, r.duration_ms / 1000)
            kind = _case(suite, r)
            if kind:
                counts[kind] += 1
        suite.set("time", f"{seconds:.3f}")
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def _case(suite: ET.Element, r: apb.AssessmentResult) -> str:
    """Add the test case of ``r``; the counter it adds to (failures, errors, skipped, "")."""
    case = ET.SubElement(
        suite, "testcase", classname=_clean(r.check_id), name=_clean(object_text(r))
    )
    where = location_text(r)
    if where:
        case.set("file", _clean(where.rpartition(":")[0] if r.origin.line else where))
        if r.origin.line:
            case.set("line", str(r.origin.line))
    message = _clean(r.message)
    if r.status == cpb.STATUS_FAILING:
        failure = ET.SubElement(case, "failure", message=message, type=severity_name(r.severity))
        failure.text = _clean("\n".join(p for p in (r.message, where, r.remediation) if p))
        return "failures"
    if r.status in (cpb.STATUS_ERROR, cpb.STATUS_TIMEOUT):
        kind = "timeout" if r.status == cpb.STATUS_TIMEOUT else "error"
        ET.SubElement(case, "error", message=message, type=kind)
        return "errors"
    if r.status == cpb.STATUS_SKIPPED:
        ET.SubElement(case, "skipped", message=message)
        return "skipped"
    if r.status == cpb.STATUS_WARNING and r.message:
        ET.SubElement(case, "system-out").text = _clean(f"warning: {r.message}")
    return ""
