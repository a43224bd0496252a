"""Every RPC needs a valid bearer token; writes need a writer group; health and reflection
stay open; and no token or user name ever shows in an error or a log line."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf.descriptor import MethodDescriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from typer.testing import CliRunner

from assay.client.api import AssayClient, Credentials
from assay.client.cli.main import app
from assay.server.api.access import METHOD_ACCESS, SERVICE_DESCRIPTORS
from assay.server.api.server import ASSESSMENT_SERVICE
from assay.server.auth.access import Access
from assay.server.storage.repository import Repository
from assay.v1 import assessment_pb2 as apb
from tests.integration.auth.harness import (
    READER,
    READER_TOKEN,
    WRITER,
    WRITER_TOKEN,
    Secured,
    bearer,
    call,
    secured_settings,
    serve,
)

METHODS = [method for service in SERVICE_DESCRIPTORS for method in service.methods]


def path_of(method: MethodDescriptor) -> str:
    return f"/{method.containing_service.full_name}/{method.name}"


EVERY_METHOD = [pytest.param(m, id=path_of(m)) for m in METHODS]
WRITE_METHODS = [
    pytest.param(m, id=path_of(m)) for m in METHODS if METHOD_ACCESS[path_of(m)] is Access.WRITE
]
SECRETS = (READER_TOKEN, WRITER_TOKEN, READER, WRITER, "wrong-token-0xdeadbeef")


@pytest.fixture
def secured(sqlite_repository: Repository, tmp_path: Path) -> Iterator[Secured]:
    with serve(sqlite_repository, secured_settings(tmp_path)) as running:
        yield running


@pytest.fixture
def channel(secured: Secured) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(secured.target) as opened:
        yield opened


@pytest.mark.parametrize("method", EVERY_METHOD)
@pytest.mark.parametrize(
    "metadata",
    [
        pytest.param((), id="no-token"),
        pytest.param(bearer("wrong-token-0xdeadbeef"), id="invalid-token"),
        pytest.param((("authorization", f"Basic {READER_TOKEN}"),), id="not-bearer"),
        pytest.param(bearer(READER_TOKEN) + bearer(WRITER_TOKEN), id="two-tokens"),
    ],
)
def test_every_rpc_refuses_callers_without_a_valid_token(
    channel: grpc.Channel, method: MethodDescriptor, metadata: tuple[tuple[str, str], ...]
) -> None:
    code, details = call(channel, method, metadata)
    assert code is grpc.StatusCode.UNAUTHENTICATED, details
    assert not any(secret in details for secret in SECRETS)


def test_health_and_reflection_stay_open(channel: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    reply = health.Check(health_pb2.HealthCheckRequest(service=ASSESSMENT_SERVICE), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    answer = next(iter(reflection.ServerReflectionInfo(iter([request]), timeout=5)))
    assert ASSESSMENT_SERVICE in {s.name for s in answer.list_services_response.service}


def test_reads_need_only_a_valid_token(secured: Secured) -> None:
    with AssayClient(secured.target, credentials=Credentials(token=READER_TOKEN)) as client:
        assert len(client.list_runs(apb.ListRunsRequest()).runs) == 0
        assert client.list_checks([])


@pytest.mark.parametrize("method", WRITE_METHODS)
def test_each_write_needs_a_writer_group(channel: grpc.Channel, method: MethodDescriptor) -> None:
    code, details = call(channel, method, bearer(READER_TOKEN))
    assert code is grpc.StatusCode.PERMISSION_DENIED, details
    assert "ASSAY_WRITER_GROUPS" in details
    # A writer gets past authorisation to the request's own checks (an empty StartRun
    # even starts a run of the cluster, which then fails for want of one).
    code, details = call(channel, method, bearer(WRITER_TOKEN))
    assert code not in (
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.PERMISSION_DENIED,
    ), details


def test_no_token_or_user_in_any_error_or_log_line(
    channel: grpc.Channel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    details = []
    for method in METHODS:
        for metadata in ((), bearer("wrong-token-0xdeadbeef"), bearer(READER_TOKEN)):
            details.append(call(channel, method, metadata)[1])
    text = caplog.text + "\n".join(details)
    assert "unauthenticated call to /assay.v1.AssessmentService/StartRun" in caplog.text
    for secret in SECRETS:
        assert secret not in text


def test_refused_calls_are_counted_by_code(secured: Secured, channel: grpc.Channel) -> None:
    method = apb.DESCRIPTOR.services_by_name["AssessmentService"].methods_by_name["ListRuns"]
    call(channel, method)
    labels = {
        "grpc_method": "/assay.v1.AssessmentService/ListRuns",
        "grpc_code": "UNAUTHENTICATED",
    }
    assert secured.server.metrics.get_sample_value("assay_grpc_server_handled_total", labels) == 1


def test_the_cli_sends_its_token_and_explains_a_missing_one(
    secured: Secured, tmp_path: Path
) -> None:
    cli = CliRunner()
    result = cli.invoke(app, ["--server", secured.target, "runs", "cancel", "run_x"])
    assert result.exit_code == 1
    assert "unauthenticated" in result.stderr and "--token" in result.stderr
    result = cli.invoke(
        app,
        ["--server", secured.target, "query", "runs", "list", "-o", "json"],
        env={"ASSAY_TOKEN": READER_TOKEN},
    )
    assert result.exit_code == 0, result.output
    token_path = tmp_path / "token"
    token_path.write_text(READER_TOKEN + "\n")
    result = cli.invoke(
        app,
        ["--server", secured.target, "--token-file", str(token_path), "runs", "cancel", "run_x"],
    )
    assert result.exit_code == 1 and "permission denied" in result.stderr
    assert READER_TOKEN not in result.output
