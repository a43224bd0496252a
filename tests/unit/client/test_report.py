"""The report pieces on their own: the comparison, the baseline reader, the grouped
listing at 80 and 200 columns, SARIF levels and JUnit text cleaning."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from rich.console import Console

from assay.client.report.compare import compare
from assay.client.report.document import BaselineError, read_baseline
from assay.client.report.grouped import grouped_findings
from assay.client.report.junit import junit_xml
from assay.client.report.sarif import sarif_log
from assay.v1 import assessment_pb2 as apb
from assay.v1 import common_pb2 as cpb


def result(
    name: str,
    *,
    check: str = "SEC-001",
    container: str = "app",
    message: str = "bad",
    status: cpb.Status.ValueType = cpb.STATUS_FAILING,
    severity: cpb.Severity.ValueType = cpb.SEVERITY_HIGH,
) -> apb.AssessmentResult:
    r = apb.AssessmentResult(
        check_id=check,
        check_name="Privileged container",
        status=status,
        severity=severity,
        container=container,
        message=message,
    )
    r.object.kind, r.object.namespace, r.object.name = "Deployment", "shop", name
    return r


def test_compare_matches_by_check_object_and_container_not_message() -> None:
    before = [result("web", message="old text"), result("api"), result("web", container="side")]
    after = [result("web", message="new text"), result("jobs")]
    c = compare(before, after)
    assert [r.object.name for r in c.new] == ["jobs"]
    assert [(r.object.name, r.container) for r in c.fixed] == [("api", "app"), ("web", "side")]
    assert [r.message for r in c.unchanged] == ["new text"]


def test_compare_matches_repeated_identities_one_for_one() -> None:
    c = compare([result("web")], [result("web"), result("web")])
    assert (len(c.new), len(c.unchanged), len(c.fixed)) == (1, 1, 0)


def test_baseline_keeps_failing_findings_and_refuses_garbage(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text(
        json.dumps(
            {
                "findings": [
                    {"check_id": "SEC-001", "status": "STATUS_FAILING", "object": {"name": "a"}},
                    {"check_id": "SEC-002", "status": "warning"},
                ]
            }
        )
    )
    assert [r.check_id for r in read_baseline(path)] == ["SEC-001"]
    for text, message in [
        ("[]", "no findings list"),
        ('{"findings": [{"status": "failing"}]}', "check_id is required"),
        ('{"findings": [{"check_id": "X", "status": "dreadful"}]}', "unknown value"),
        ('{"findings": [{"check_id": 5}]}', "check_id is a string"),
    ]:
        path.write_text(text)
        with pytest.raises(BaselineError, match=message):
            read_baseline(path)


def render(width: int, results: list[apb.AssessmentResult], *, show_all: bool = False) -> str:
    out = io.StringIO()
    listing = grouped_findings(results, show_all=show_all)
    Console(file=out, width=width, color_system=None).print(listing)
    return out.getvalue()


@pytest.mark.parametrize("width", [80, 200])
def test_grouped_findings_print_markup_literally(width: int) -> None:
    text = render(width, [result("web", message="[bold]x[/bold] and [/]", container="[reindex]")])
    assert "Deployment/shop/web [[reindex]]" in text  # the container, in brackets
    assert "[bold]x[/bold] and [/]" in text
    assert max(len(line) for line in text.splitlines()) <= width


def test_grouped_findings_limit_per_check_and_in_all() -> None:
    many = [result(f"w{i:02}") for i in range(12)] + [
        result(f"o{i:02}", check="OPS-001", severity=cpb.SEVERITY_LOW) for i in range(60)
    ]
    text = render(200, many)
    assert text.index("SEC-001") < text.index("OPS-001")  # worse severity first
    assert text.count("Deployment/shop/w") == 5 and "... and 7 more" in text
    assert "62 findings not shown: --show all lists every one" in text
    assert render(200, many, show_all=True).count("Deployment/shop/") == 72
    capped = [result(f"x{i}", check=f"SEC-{i:03}") for i in range(60)]
    assert render(200, capped).count("Deployment/shop/") == 50


def test_sarif_levels_follow_severity() -> None:
    checks = [apb.CheckDefinition(id="SEC-001", name="n", severity=cpb.SEVERITY_LOW)]
    log = sarif_log(
        checks=checks,
        results=[
            result("a", severity=cpb.SEVERITY_CRITICAL),
            result("b", severity=cpb.SEVERITY_MEDIUM),
            result("c", severity=cpb.SEVERITY_LOW),
            result("d", status=cpb.STATUS_WARNING),
            result("e", status=cpb.STATUS_PASSING),
        ],
        run=apb.RunState(state=apb.RUN_PHASE_COMPLETED),
        tool_version="1",
        source_root="/src",
    )
    run = log["runs"][0]
    assert [r["level"] for r in run["results"]] == ["error", "warning", "note", "warning"]
    assert run["tool"]["driver"]["rules"][0]["properties"]["security-severity"] == "3.0"
    assert run["originalUriBaseIds"]["SRCROOT"]["uri"] == "file:///src/"


def test_junit_cleans_text_xml_cannot_hold() -> None:
    document = junit_xml([result("web", message="nul\x00 and \x1b[31m escape")])
    case = ET.fromstring(document).find("testsuite/testcase/failure")
    assert case is not None and case.get("message") == "nul\ufffd and \ufffd[31m escape"
