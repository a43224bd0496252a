"""``assay scan``: the embedded server, every exit status, every output format (SARIF
validated against the SARIF 2.1.0 schema, JUnit parsed back), broken inputs, baselines."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from assay.client.cli.main import app

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"
FIXTURES = ROOT / "tests" / "fixtures"
SCHEMA = json.loads((FIXTURES / "sarif" / "sarif-schema-2.1.0.json").read_text())
runner = CliRunner()

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: "{name}", namespace: shop}}
spec:
  selector: {{matchLabels: {{app: "{name}"}}}}
  template:
    metadata: {{labels: {{app: "{name}"}}}}
    spec:
      containers:
        - name: app
          image: registry.example.com/app:1.0
          securityContext: {{privileged: {privileged}}}
"""


def deployment(name: str, *, privileged: bool) -> str:
    return DEPLOYMENT.format(name=name, privileged=str(privileged).lower())


def scan(*args: str, columns: int = 80) -> tuple[int, str, str]:
    result = runner.invoke(app, ["scan", *args], env={"COLUMNS": str(columns)})
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


# -- exit statuses --------------------------------------------------------------------------


def test_clean_manifests_exit_0(tmp_path: Path) -> None:
    write(tmp_path, {"ok.yaml": deployment("web", privileged=False)})
    code, out, err = scan(str(tmp_path), "--check", "SEC-001")
    assert code == 0, err
    assert "Failing findings by check: none" in out


def test_a_failing_result_exits_2_and_is_listed_by_check(tmp_path: Path) -> None:
    write(tmp_path, {"bad.yaml": deployment("web", privileged=True)})
    code, out, err = scan(str(tmp_path), "--check", "SEC-001", columns=300)
    assert code == 2, err
    assert "failing results at or above severity info" in err
    assert "SEC-001" in out and "Deployment/shop/web [app]" in out
    assert f"{tmp_path / 'bad.yaml'}:1" in out
    assert all(line == line.rstrip() for line in out.splitlines()), "no padded lines"


def test_fail_on_sets_the_threshold(tmp_path: Path) -> None:
    # OPS-005 (objects in the default namespace) is low severity.
    low = next((FIXTURES / "checks" / "OPS-005").glob("failure*.yaml"))
    assert scan(str(low), "--check", "OPS-005", "--fail-on", "high")[0] == 0
    assert scan(str(low), "--check", "OPS-005", "--fail-on", "low")[0] == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{missing}"], "no such file or directory"),
        (["{dir}", "--check", "SEC-001", "--pillar", "sec"], "exclude each other"),
        (["{dir}", "--policy", "{missing}"], "is not a file"),
        (["{dir}", "--baseline", "{missing}"], "--baseline"),
        (["{dir}", "--baseline", "{notjson}"], "not JSON"),
        (["{dir}", "--check", "SEC-999"], "SEC-999"),
        (["{dir}", "--fail-on", "extreme"], "extreme"),
        (["{dir}", "--no-such-option"], "--no-such-option"),
    ],
)
def test_usage_and_input_errors_exit_1(tmp_path: Path, args: list[str], message: str) -> None:
    directory = write(tmp_path / "in", {"ok.yaml": deployment("web", privileged=False)})
    (tmp_path / "report.json").write_text("{not json")
    values = {
        "missing": str(tmp_path / "missing"),
        "dir": str(directory),
        "notjson": str(tmp_path / "report.json"),
    }
    code, out, err = scan(*(a.format(**values) for a in args))
    assert code == 1
    assert message in err
    assert out == ""


def test_an_unusable_policy_exits_1_with_one_line(tmp_path: Path) -> None:
    write(tmp_path / "in", {"ok.yaml": deployment("web", privileged=False)})
    policy = tmp_path / "policy.yaml"
    policy.write_text("checks:\n  SEC-999: {enabled: false}\n")
    code, _out, err = scan(str(tmp_path / "in"), "--policy", str(policy))
    assert code == 1
    assert err.startswith("error:") and "SEC-999" in err
    assert len(err.strip().splitlines()) == 1


def test_a_policy_switches_checks_off(tmp_path: Path) -> None:
    write(tmp_path / "in", {"bad.yaml": deployment("web", privileged=True)})
    policy = tmp_path / "policy.yaml"
    policy.write_text("checks:\n  SEC-001: {enabled: false}\n")
    code, out, err = scan(
        str(tmp_path / "in"), "--pillar", "sec", "--policy", str(policy), "-o", "json"
    )
    assert code == 2, err
    assert "SEC-001" not in {f["check_id"] for f in json.loads(out)["findings"]}


PLUGIN = """
import os
import pathlib
import threading

from assay.server.checks.kit.definition import CheckDefinition, check
from assay.server.core.types import Pillar, Severity

RELEASE = threading.Event()


def _definition(number):
    return CheckDefinition(
        id=f"OPS-{number}", pillar=Pillar.OPERATIONAL_EXCELLENCE, name="Plug-in check",
        description="From a test plug-in.", severity=Severity.LOW, scope="C",
        remediation="Nothing to do.",
    )


def _broken(inventory):
    raise RuntimeError("the plug-in check broke")


def _stuck(inventory):
    started = os.environ.get("SCAN_TEST_STARTED")
    if started:
        pathlib.Path(started).write_text("started")
    RELEASE.wait(30)
    return []


BROKEN = check(_definition(991))(_broken)
STUCK = check(_definition(992))(_stuck)
"""


@pytest.fixture
def plugin(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """An installed distribution with two checks: one raises, one blocks until released."""
    root = tmp_path_factory.mktemp("plugin")
    (root / "scan_test_checks.py").write_text(textwrap.dedent(PLUGIN))
    dist_info = root / "scan_test_checks-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: scan-test-checks\nVersion: 1.0\n"
    )
    (dist_info / "entry_points.txt").write_text(
        "[assay.checks]\nbroken = scan_test_checks:BROKEN\nstuck = scan_test_checks:STUCK\n"
    )
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.delitem(sys.modules, "scan_test_checks", raising=False)
    import scan_test_checks  # type: ignore[import-not-found]

    yield scan_test_checks
    scan_test_checks.RELEASE.set()


def test_a_check_that_errors_makes_the_scan_partial_exit_3(tmp_path: Path, plugin: Any) -> None:
    write(tmp_path, {"ok.yaml": deployment("web", privileged=False)})
    code, _out, err = scan(str(tmp_path), "--check", "OPS-991")
    assert code == 3, err
    assert "partial" in err


def test_a_check_that_times_out_makes_the_scan_partial_exit_3(tmp_path: Path, plugin: Any) -> None:
    write(tmp_path, {"ok.yaml": deployment("web", privileged=False)})
    code, _out, err = scan(str(tmp_path), "--check", "OPS-992", "--check-timeout", "0.2")
    assert code == 3, err


def test_ctrl_c_stops_the_scan_with_130(tmp_path: Path, plugin: Any) -> None:
    write(tmp_path / "in", {"ok.yaml": deployment("web", privileged=False)})
    started = tmp_path / "started"
    os.mkfifo(started)  # the check writes to it when it runs; reading waits for that
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(Path(plugin.__file__).parent), *sys.path]),
        "SCAN_TEST_STARTED": str(started),
    }
    assay = shutil.which("assay", path=str(Path(sys.executable).parent))
    assert assay is not None
    with subprocess.Popen(
        [assay, "scan", str(tmp_path / "in"), "--check", "OPS-992"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert started.read_text() == "started"  # the check runs: the run is in flight
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert "interrupted: the scan stopped" in err
    assert out == ""


def test_findings_win_over_a_partial_run(tmp_path: Path, plugin: Any) -> None:
    write(tmp_path, {"bad.yaml": deployment("web", privileged=True)})
    code, _, err = scan(str(tmp_path), "--pillar", "ops,sec", "--fail-on", "critical")
    assert code == 2, err


# -- inputs ---------------------------------------------------------------------------------


def test_a_broken_file_is_reported_and_the_others_are_assessed(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"bad.yaml": deployment("web", privileged=True), "broken.yaml": "kind: [unclosed\n"},
    )
    code, out, err = scan(str(tmp_path), "--check", "SEC-001", "-o", "json")
    assert code == 2
    assert f"warning: {tmp_path / 'broken.yaml'}:" in err
    report = json.loads(out)
    assert any(d.startswith(str(tmp_path / "broken.yaml")) for d in report["run"]["diagnostics"])
    assert [f["object"]["name"] for f in report["findings"]] == ["web"]


def test_markup_in_file_names_and_messages_is_printed_as_text(tmp_path: Path) -> None:
    manifest = deployment("web", privileged=True).replace(
        "registry.example.com/app:1.0", "registry.example.com/[bold]app[/bold]:latest"
    )
    write(tmp_path, {"[red]bad.yaml": manifest})
    code, out, _ = scan(str(tmp_path), "--check", "REL-013", "--show", "all", columns=300)
    assert code == 2
    assert f"{tmp_path / '[red]bad.yaml'}:1" in out
    assert "[bold]app[/bold]:latest" in out


# -- formats --------------------------------------------------------------------------------


@pytest.mark.parametrize("output", ["json", "yaml"])
def test_json_and_yaml_reports(tmp_path: Path, output: str) -> None:
    write(tmp_path, {"bad.yaml": deployment("web", privileged=True)})
    code, out, err = scan(str(tmp_path), "--pillar", "sec", "-o", output)
    assert code == 2, err
    data = json.loads(out) if output == "json" else yaml.safe_load(out)
    assert set(data) == {"run", "summary", "findings"}
    statuses = {str(f["status"]).lower().removeprefix("status_") for f in data["findings"]}
    assert statuses <= {"failing", "warning", "error", "timeout"}
    privileged = [f for f in data["findings"] if f["check_id"] == "SEC-001"]
    assert privileged[0]["origin"] == {"path": str(tmp_path / "bad.yaml"), "line": 1}


def _sarif(*args: str) -> tuple[int, dict[str, Any]]:
    code, out, err = scan(*args, "-o", "sarif")
    assert code in (0, 2), err
    log = json.loads(out)
    jsonschema.validate(log, SCHEMA)
    return code, log


def test_sarif_with_findings_is_valid_and_located(tmp_path: Path) -> None:
    write(tmp_path, {"bad.yaml": deployment("web", privileged=True)})
    code, log = _sarif(str(tmp_path), "--pillar", "sec")
    assert code == 2
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids)) and "SEC-001" in ids and all(i.startswith("SEC-") for i in ids)
    rule = rules[ids.index("SEC-001")]
    assert rule["defaultConfiguration"]["level"] == "error"
    assert float(rule["properties"]["security-severity"]) >= 9.0
    assert "Remediation:" in rule["help"]["text"]
    result = next(r for r in run["results"] if r["ruleId"] == "SEC-001")
    assert result["ruleIndex"] == ids.index("SEC-001")
    location = result["locations"][0]
    physical = location["physicalLocation"]
    relative = (
        (tmp_path / "bad.yaml").relative_to(Path.cwd())
        if tmp_path.is_relative_to(Path.cwd())
        else None
    )
    if relative is None:
        assert physical["artifactLocation"]["uri"] == (tmp_path / "bad.yaml").as_uri()
    assert physical["region"]["startLine"] == 1
    assert location["logicalLocations"][0]["fullyQualifiedName"] == "Deployment/shop/web/app"
    assert run["invocations"][0]["executionSuccessful"] is True


def test_sarif_uses_relative_paths_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "manifests", {"bad.yaml": deployment("web", privileged=True)})
    monkeypatch.chdir(tmp_path)
    _, log = _sarif("manifests", "--check", "SEC-001")
    run = log["runs"][0]
    artifact = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert artifact == {"uri": "manifests/bad.yaml", "uriBaseId": "SRCROOT"}
    assert run["originalUriBaseIds"]["SRCROOT"]["uri"] == tmp_path.as_uri() + "/"


def test_sarif_with_zero_findings_is_valid(tmp_path: Path) -> None:
    write(tmp_path, {"ok.yaml": deployment("web", privileged=False)})
    code, log = _sarif(str(tmp_path), "--check", "SEC-001")
    assert code == 0
    assert log["runs"][0]["results"] == []
    assert [r["id"] for r in log["runs"][0]["tool"]["driver"]["rules"]] == ["SEC-001"]


def test_sarif_reports_broken_checks_as_notifications(tmp_path: Path, plugin: Any) -> None:
    write(tmp_path, {"ok.yaml": deployment("web", privileged=False)})
    code, out, _ = scan(str(tmp_path), "--check", "OPS-991", "-o", "sarif")
    assert code == 3
    log = json.loads(out)
    jsonschema.validate(log, SCHEMA)
    invocation = log["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert "OPS-991" in invocation["toolExecutionNotifications"][0]["message"]["text"]


def test_junit_parses_back_one_case_per_check_and_object(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "bad.yaml": deployment("web", privileged=True),
            "ok.yaml": deployment("api", privileged=False),
        },
    )
    code, out, err = scan(str(tmp_path), "--check", "SEC-001", "-o", "junit")
    assert code == 2, err
    root = ET.fromstring(out)
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    assert suite.get("name", "").startswith("SEC-001 ")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert set(cases) == {"Deployment/shop/web [app]", "Deployment/shop/api [app]"}
    failure = cases["Deployment/shop/web [app]"].find("failure")
    assert failure is not None and failure.get("type") == "critical"
    assert cases["Deployment/shop/api [app]"].find("failure") is None
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
    assert root.get("failures") == "1"
    assert cases["Deployment/shop/web [app]"].get("file") == str(tmp_path / "bad.yaml")


def test_junit_marks_errors_and_skips(tmp_path: Path, plugin: Any) -> None:
    write(tmp_path, {"ok.yaml": deployment("web", privileged=False)})
    code, out, _ = scan(str(tmp_path), "--check", "OPS-991", "-o", "junit")
    assert code == 3
    root = ET.fromstring(out)
    assert root.get("errors") == "1"
    assert root.find("testsuite/testcase/error") is not None
    exempt = FIXTURES / "checks" / "SEC-001" / "success-exempt.yaml"
    code, out, _ = scan(str(exempt), "--check", "SEC-001", "-o", "junit")
    assert code == 0
    root = ET.fromstring(out)
    skipped = root.find("testsuite/testcase/skipped")
    assert skipped is not None and "CSI node plugin" in skipped.get("message", "")
    assert root.get("skipped") == root.get("tests") != "0"


# -- baseline -------------------------------------------------------------------------------


def _baseline(tmp_path: Path, files: dict[str, str]) -> Path:
    code, out, err = scan(
        str(write(tmp_path / "before", files)), "--check", "SEC-001", "-o", "json"
    )
    assert code == 2, err
    path = tmp_path / "baseline.json"
    path.write_text(out)
    return path


def test_baseline_unchanged_findings_pass(tmp_path: Path) -> None:
    files = {"a.yaml": deployment("web", privileged=True)}
    baseline = _baseline(tmp_path, files)
    after = write(tmp_path / "after", files)
    code, out, err = scan(str(after), "--check", "SEC-001", "--baseline", str(baseline))
    assert code == 0, err
    assert "0 new, 1 unchanged, 0 fixed" in err
    assert "New failing findings by check: none" in out


def test_baseline_new_finding_fails_and_fixed_ones_are_counted(tmp_path: Path) -> None:
    baseline = _baseline(
        tmp_path,
        {
            "a.yaml": deployment("web", privileged=True),
            "b.yaml": deployment("api", privileged=True),
        },
    )
    after = write(
        tmp_path / "after",
        {
            "a.yaml": deployment("web", privileged=True),  # unchanged
            "b.yaml": deployment("api", privileged=False),  # fixed
            "c.yaml": deployment("jobs", privileged=True),  # new
        },
    )
    code, out, err = scan(
        str(after), "--check", "SEC-001", "--baseline", str(baseline), "-o", "json"
    )
    assert code == 2
    assert "new failing results at or above severity info" in err
    report = json.loads(out)
    assert [f["object"]["name"] for f in report["findings"]] == ["jobs"]
    assert {k: v for k, v in report["baseline"].items() if k != "fixed_findings"} == {
        "new": 1,
        "unchanged": 1,
        "fixed": 1,
    }
    assert [f["object"]["name"] for f in report["baseline"]["fixed_findings"]] == ["api"]


def test_baseline_renamed_and_removed_objects(tmp_path: Path) -> None:
    baseline = _baseline(
        tmp_path,
        {
            "a.yaml": deployment("web", privileged=True),
            "b.yaml": deployment("api", privileged=True),
        },
    )
    # web renamed to web-v2 (a new finding, the old one fixed); api removed (fixed).
    after = write(tmp_path / "after", {"a.yaml": deployment("web-v2", privileged=True)})
    code, out, err = scan(str(after), "--check", "SEC-001", "--baseline", str(baseline))
    assert code == 2
    assert "1 new, 0 unchanged, 2 fixed" in err
    assert "Deployment/shop/web-v2" in out


def test_baseline_accepts_hand_written_value_names(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    baseline.write_text(
        json.dumps(
            {
                "findings": [
                    {
                        "check_id": "SEC-001",
                        "status": "failing",
                        "severity": "critical",
                        "object": {"kind": "Deployment", "namespace": "shop", "name": "web"},
                        "container": "app",
                    }
                ]
            }
        )
    )
    after = write(tmp_path / "after", {"a.yaml": deployment("web", privileged=True)})
    code, _, err = scan(str(after), "--check", "SEC-001", "--baseline", str(baseline))
    assert code == 0, err


# -- the examples ---------------------------------------------------------------------------


def test_scan_of_the_examples(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    code, out, err = scan("examples/", "-o", "sarif")
    assert code == 2, err
    log = json.loads(out)
    jsonschema.validate(log, SCHEMA)
    assert len(log["runs"][0]["results"]) > 100
