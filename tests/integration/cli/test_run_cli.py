"""``assay run``, ``assay runs cancel`` and ``assay checks list`` against a real server."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from typer.testing import CliRunner

from assay.client.api import AssayClient
from assay.client.cli.main import app
from assay.server.app import AssayServer
from assay.server.kube.settings import KubeSettings
from assay.server.storage.repository import Repository
from assay.v1 import assessment_pb2 as apb
from tests.integration.api.server_fixtures import ServerThread, server_settings
from tests.unit.assessment.fakes import Gate, fake_check, pod, registry

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "checks"
runner = CliRunner()


def invoke(target: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--server", target, *args])
    return result.exit_code, result.stdout, result.stderr


def test_run_prints_the_summary(assay_server: ServerThread) -> None:
    code, out, err = invoke(
        assay_server.target, "run", "--source", "manifests", "--path", str(EXAMPLES)
    )
    assert code == 0, err
    assert "completed" in out and "Summary of run" in out


@pytest.mark.parametrize("output", ["json", "yaml"])
def test_run_machine_output(assay_server: ServerThread, output: str) -> None:
    code, out, err = invoke(
        assay_server.target, "run", "--path", str(EXAMPLES), "--pillar", "sec", "-o", output
    )
    assert code == 0, err
    data = json.loads(out) if output == "json" else yaml.safe_load(out)
    assert data["run"]["state"] == "completed"
    assert [p["pillar"] for p in data["summary"]["pillars"]] == ["security"]


def test_fail_on_exits_2_when_a_failing_result_is_severe_enough(
    assay_server: ServerThread,
) -> None:
    failing = FIXTURES / "SEC-001"
    failure_file = next(failing.glob("failure*.yaml"))
    args = ("run", "--path", str(failure_file), "--check", "SEC-001")
    code, _, err = invoke(assay_server.target, *args, "--fail-on", "critical")
    assert code == 2
    assert "failing results at or above severity critical" in err
    code, _, err = invoke(assay_server.target, *args, "--fail-on", "high")
    assert code == 2


def test_fail_on_passes_when_findings_are_below_the_threshold(
    assay_server: ServerThread,
) -> None:
    # OPS-005 (objects in default) is low severity.
    failure_file = next((FIXTURES / "OPS-005").glob("failure*.yaml"))
    args = ("run", "--path", str(failure_file), "--check", "OPS-005")
    code, _, err = invoke(assay_server.target, *args, "--fail-on", "high")
    assert code == 0, err
    code, _, _ = invoke(assay_server.target, *args, "--fail-on", "low")
    assert code == 2


def test_run_that_fails_exits_1(repository: Repository, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\n")
    settings = server_settings(kube=KubeSettings(kubeconfig=str(kubeconfig)))
    with ServerThread(AssayServer(settings, repository=repository)) as running:
        code, out, _ = invoke(running.target, "run", "--check", "SEC-001")
    assert code == 1
    assert "failed" in out


def test_a_missing_manifest_path_is_a_usage_error(
    assay_server: ServerThread, tmp_path: Path
) -> None:
    code, _, err = invoke(assay_server.target, "run", "--path", str(tmp_path / "missing"))
    assert code == 2
    words = " ".join(err.replace("│", " ").split())  # the usage box wraps at the terminal width
    assert "no such file or directory" in words


def test_no_wait_prints_the_queued_run(assay_server: ServerThread) -> None:
    code, out, err = invoke(
        assay_server.target, "run", "--path", str(EXAMPLES), "--no-wait", "-o", "json"
    )
    assert code == 0, err
    run_id = json.loads(out)["run_id"]
    code, out, _ = invoke(assay_server.target, "query", "runs", "get", run_id, "-o", "json")
    assert code == 0 and json.loads(out)["run_id"] == run_id


def test_unknown_check_is_one_line(assay_server: ServerThread) -> None:
    code, _, err = invoke(assay_server.target, "run", "--path", str(EXAMPLES), "--check", "SEC-999")
    assert code == 1
    assert "SEC-999" in err and err.strip().count("\n") == 0


def test_manifests_without_path_is_a_usage_error(assay_server: ServerThread) -> None:
    code, _, err = invoke(assay_server.target, "run", "--source", "manifests")
    assert code == 2 and "--path" in err


def test_cancel_of_a_finished_run_explains(assay_server: ServerThread) -> None:
    code, out, _ = invoke(
        assay_server.target, "run", "--path", str(EXAMPLES), "--check", "OPS-005", "-o", "json"
    )
    run_id = json.loads(out)["run"]["run_id"]
    code, _, err = invoke(assay_server.target, "runs", "cancel", run_id)
    assert code == 1 and "already ended" in err


@pytest.mark.parametrize("output", ["table", "json", "yaml"])
def test_checks_list(assay_server: ServerThread, output: str) -> None:
    code, out, err = invoke(
        assay_server.target, "checks", "list", "--pillar", "reliability", "-o", output
    )
    assert code == 0, err
    if output == "table":
        assert "REL-001" in out and "SEC-001" not in out
        return
    data = json.loads(out) if output == "json" else yaml.safe_load(out)
    assert {c["id"][:3] for c in data} == {"REL"}


def test_ctrl_c_detaches_and_the_run_goes_on(repository: Repository, tmp_path: Path) -> None:
    gate = Gate()
    server = AssayServer(
        server_settings(), repository=repository, registry=registry(fake_check("OPS-001", gate))
    )
    (tmp_path / "pod.yaml").write_text(yaml.safe_dump(pod("web")))
    with ServerThread(server) as running:
        bus = running.server.runner.bus if running.server.runner else None
        assert bus is not None

        def interrupt_once_watching() -> None:
            # The CLI is following the run once the server has a WatchRun subscriber.
            deadline = time.monotonic() + 10
            while bus.subscriber_count() == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
            # To the main thread only (where the CLI runs), as a terminal's Ctrl-C reaches
            # the foreground process; a process-wide signal could interrupt server threads.
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

        interrupter = threading.Thread(target=interrupt_once_watching)
        interrupter.start()
        try:
            code, _, err = invoke(running.target, "run", "--path", str(tmp_path))
        finally:
            interrupter.join(10)
        assert code == 130
        assert "Detached from run" in err and "assay runs cancel" in err
        run_id = err.split("Detached from run ")[1].split(";")[0]
        assert f"assay runs watch {run_id}" in err
        with AssayClient(running.target, timeout_s=10) as client:
            # The run goes on: it reaches running (its upload parsed) and waits at the gate.
            states = (e.state_changed.state for e in client.watch_run(run_id))
            assert apb.RUN_PHASE_RUNNING in states
            assert client.get_run(run_id).state == apb.RUN_PHASE_RUNNING
            gate.release.set()
            assert list(client.watch_run(run_id))[-1].run_finished.run.state == (
                apb.RUN_PHASE_COMPLETED
            )


def test_runs_watch_follows_a_run_started_elsewhere(repository: Repository, tmp_path: Path) -> None:
    gate = Gate()
    server = AssayServer(
        server_settings(), repository=repository, registry=registry(fake_check("OPS-001", gate))
    )
    (tmp_path / "pod.yaml").write_text(yaml.safe_dump(pod("web")))
    with ServerThread(server) as running:
        code, _, err = invoke(running.target, "run", "--path", str(tmp_path), "--no-wait")
        assert code == 0, err
        with AssayClient(running.target, timeout_s=10) as client:
            [started] = client.list_runs(apb.ListRunsRequest()).runs
        gate.release.set()
        code, out, err = invoke(running.target, "runs", "watch", started.run_id)
        assert code == 0, err
        assert "completed" in out and f"Summary of run {started.run_id}" in out


def ends_early(request: apb.WatchRunRequest, context: Any) -> Iterator[apb.WatchRunResponse]:
    """WatchRun that ends after one event, as a server shutting down might."""
    yield apb.WatchRunResponse(
        event=apb.RunEvent(
            run_id=request.run_id,
            sequence=1,
            state_changed=apb.RunStateChanged(state=apb.RUN_PHASE_RUNNING),
        )
    )


def still_running(request: apb.GetRunRequest, context: Any) -> apb.GetRunResponse:
    return apb.GetRunResponse(run=apb.RunState(run_id=request.run_id, state=apb.RUN_PHASE_RUNNING))


def test_a_stream_that_ends_before_the_run_finished_is_an_error() -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    methods = {
        "WatchRun": grpc.unary_stream_rpc_method_handler(
            ends_early,
            request_deserializer=apb.WatchRunRequest.FromString,
            response_serializer=apb.WatchRunResponse.SerializeToString,
        ),
        "GetRun": grpc.unary_unary_rpc_method_handler(
            still_running,
            request_deserializer=apb.GetRunRequest.FromString,
            response_serializer=apb.GetRunResponse.SerializeToString,
        ),
    }
    service = apb.DESCRIPTOR.services_by_name["AssessmentService"].full_name
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, methods),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        code, _, err = invoke(f"127.0.0.1:{port}", "runs", "watch", "run_x")
    finally:
        server.stop(None)
    assert code == 1
    assert "ended the progress of run run_x before the run finished" in err
    assert "assay runs watch run_x" in err
