"""Manifests travel in the request: uploaded in chunks within the server's size limit, file
names kept as labels (and checked), the stream's shape enforced; and the CLI reads files,
trees and standard input for it."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import grpc
import pytest
from typer.testing import CliRunner

from assay.client.api import AssayClient, ClientError, Credentials
from assay.client.cli.main import app
from assay.server.assessment.settings import AssessmentSettings
from assay.server.storage.repository import Repository
from assay.v1 import assessment_pb2 as apb
from tests.integration.auth.harness import WRITER_TOKEN, Secured, bearer, secured_settings, serve

LIMIT = 1000
POD = b"apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\nspec: {}\n"


@pytest.fixture
def secured(sqlite_repository: Repository, tmp_path: Path) -> Iterator[Secured]:
    settings = secured_settings(tmp_path)
    settings = dataclasses.replace(settings, assessment=AssessmentSettings(max_upload_bytes=LIMIT))
    with serve(sqlite_repository, settings) as running:
        yield running


@pytest.fixture
def client(secured: Secured) -> Iterator[AssayClient]:
    with AssayClient(secured.target, credentials=Credentials(token=WRITER_TOKEN)) as opened:
        yield opened


def finished(client: AssayClient, run: apb.RunState) -> apb.RunState:
    return list(client.watch_run(run.run_id))[-1].run_finished.run


def test_an_upload_up_to_the_limit_is_assessed(client: AssayClient) -> None:
    name = "pods.yaml"
    half = (LIMIT - 2 * len(name)) // 2  # every chunk counts its name and its data
    data = POD + b"#" * (2 * half - len(POD) - 1) + b"\n"
    assert 2 * len(name) + len(data) == LIMIT
    run = client.start_manifest_run(apb.StartRunRequest(), [(name, [data[:half], data[half:]])])
    assert finished(client, run).state == apb.RUN_PHASE_COMPLETED
    with pytest.raises(ClientError) as caught:
        client.start_manifest_run(
            apb.StartRunRequest(), [(name, [data[:half], data[half:], b"\n"])]
        )
    assert caught.value.code is grpc.StatusCode.RESOURCE_EXHAUSTED


def test_an_upload_past_the_limit_is_resource_exhausted_and_not_read_to_the_end(
    client: AssayClient,
) -> None:
    sent: list[int] = []

    def endless() -> Iterator[bytes]:
        for _ in range(100_000):  # 6.4 GB if anyone read it all
            sent.append(1)
            yield b"x" * 65536

    with pytest.raises(ClientError) as caught:
        client.start_manifest_run(apb.StartRunRequest(), [("big.yaml", endless())])
    assert caught.value.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert f"limit of {LIMIT} bytes (ASSAY_MAX_UPLOAD_BYTES)" in str(caught.value)
    assert len(sent) < 1000
    assert len(client.list_runs(apb.ListRunsRequest()).runs) == 0


def stream(secured: Secured, messages: Iterable[apb.StartManifestRunRequest]) -> grpc.RpcError:
    with grpc.insecure_channel(secured.target) as channel:
        upload = channel.stream_unary(
            "/assay.v1.AssessmentService/StartManifestRun",
            request_serializer=apb.StartManifestRunRequest.SerializeToString,
            response_deserializer=apb.StartManifestRunResponse.FromString,
        )
        with pytest.raises(grpc.RpcError) as caught:
            upload(iter(messages), metadata=bearer(WRITER_TOKEN), timeout=10)
    return caught.value


RUN = apb.StartManifestRunRequest(run=apb.StartRunRequest())


def chunk(name: str, data: bytes = POD) -> apb.StartManifestRunRequest:
    return apb.StartManifestRunRequest(chunk=apb.ManifestChunk(name=name, data=data))


@pytest.mark.parametrize(
    ("messages", "text"),
    [
        ([chunk("a.yaml")], "the first message must carry the run"),
        ([], "the first message must carry the run"),
        ([RUN], "no manifest file was uploaded"),
        ([RUN, chunk("a.yaml"), RUN], "only the first message"),
        ([RUN, chunk("a.yaml"), chunk("b.yaml"), chunk("a.yaml")], "must be consecutive"),
        ([RUN, chunk("")], "a file name is required"),
        ([RUN, chunk("bad\x00name.yaml")], "chunk.name: contains a NUL character"),
        ([RUN, chunk("bad\nname.yaml")], "control characters"),
        ([RUN, chunk("n" * 1025)], "at most 1024 bytes"),
        (
            [
                apb.StartManifestRunRequest(
                    run=apb.StartRunRequest(source=apb.INVENTORY_SOURCE_LIVE)
                ),
                chunk("a.yaml"),
            ],
            "run.source",
        ),
        (
            [apb.StartManifestRunRequest(run=apb.StartRunRequest(context="prod")), chunk("a")],
            "run.context",
        ),
    ],
)
def test_a_malformed_upload_is_invalid(
    secured: Secured, messages: list[apb.StartManifestRunRequest], text: str
) -> None:
    error = stream(secured, messages)
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert text in (error.details() or "")


def test_content_that_is_not_text_becomes_a_diagnostic(client: AssayClient) -> None:
    run = client.start_manifest_run(
        apb.StartRunRequest(),
        [("binary.yaml", [b"a: \xc3\x28"]), ("nul.yaml", [b"a: \x00"]), ("ok.yaml", [POD])],
    )
    final = finished(client, run)
    assert final.state == apb.RUN_PHASE_COMPLETED
    [binary, nul] = sorted(final.diagnostics)
    assert binary.startswith("binary.yaml:1: is not valid UTF-8: byte 0xc3 at offset 3")
    assert nul.startswith("nul.yaml") and "control characters are not allowed" in nul


def test_the_cli_uploads_trees_and_stdin_under_the_names_it_was_given(
    secured: Secured, tmp_path: Path
) -> None:
    tree = tmp_path / "tree"
    (tree / "nested" / ".hidden").mkdir(parents=True)
    (tree / "nested" / "broken.yaml").write_text("kind: [unclosed\n")
    (tree / "nested" / ".hidden" / "skipped.yaml").write_text("kind: [unclosed\n")
    (tree / "notes.txt").write_text("not a manifest")
    (tree / "pod.yaml").write_bytes(POD)
    result = CliRunner().invoke(
        app,
        ["--server", secured.target, "run", "--path", str(tree), "--path", "-", "-o", "json"],
        env={"ASSAY_TOKEN": WRITER_TOKEN},
        input="kind: [also broken\n",
    )
    assert result.exit_code == 0, result.output
    diagnostics = json.loads(result.stdout)["run"]["diagnostics"]
    assert {d.split(":")[0] for d in diagnostics} == {
        "<stdin>",
        str(tree / "nested" / "broken.yaml"),
    }


def test_an_unknown_check_fails_before_the_upload_is_read(client: AssayClient) -> None:
    sent: list[int] = []

    def endless() -> Iterator[bytes]:
        for _ in range(100_000):
            sent.append(1)
            yield b"x" * 10

    with pytest.raises(ClientError) as caught:
        client.start_manifest_run(apb.StartRunRequest(check_id="SEC-999"), [("a", endless())])
    assert caught.value.code is grpc.StatusCode.NOT_FOUND
    assert len(sent) < 100_000
