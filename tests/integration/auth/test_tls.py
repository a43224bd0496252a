"""TLS on the gRPC port with certificates made in the test: server TLS, mutual TLS with a
client CA (the certificate's CN and O are the caller), and rotation without a restart."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from typer.testing import CliRunner

from assay.client.api import AssayClient, ClientError, Credentials
from assay.client.cli.main import app
from assay.server.app import AssayServer
from assay.server.auth.settings import TlsSettings
from assay.server.settings import Settings, StartupError
from assay.server.storage.repository import Repository
from assay.v1 import assessment_pb2 as apb
from tests.certificates import TestCA
from tests.integration.auth.harness import READER_TOKEN, Secured, secured_settings, serve


@dataclasses.dataclass
class Pki:
    ca: TestCA
    folder: Path

    @property
    def cert(self) -> Path:
        return self.folder / "tls.crt"

    @property
    def key(self) -> Path:
        return self.folder / "tls.key"

    @property
    def client_ca(self) -> Path:
        return self.folder / "client-ca.crt"


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    pki = Pki(TestCA(), tmp_path)
    pki.ca.server().write(pki.cert, pki.key)
    pki.client_ca.write_bytes(pki.ca.pem)
    return pki


def tls_settings(pki: Pki, *, mutual: bool = False) -> Settings:
    return dataclasses.replace(
        secured_settings(pki.folder),
        tls=TlsSettings(
            cert=str(pki.cert), key=str(pki.key), client_ca=str(pki.client_ca) if mutual else ""
        ),
    )


def tls_server(repository: Repository, pki: Pki, *, mutual: bool = False) -> Iterator[Secured]:
    with serve(repository, tls_settings(pki, mutual=mutual)) as secured:
        yield secured


@pytest.fixture
def tls(sqlite_repository: Repository, pki: Pki) -> Iterator[Secured]:
    yield from tls_server(sqlite_repository, pki)


@pytest.fixture
def mtls(sqlite_repository: Repository, pki: Pki) -> Iterator[Secured]:
    yield from tls_server(sqlite_repository, pki, mutual=True)


def list_runs(target: str, credentials: Credentials) -> int:
    with AssayClient(target, timeout_s=5, credentials=credentials) as client:
        return len(client.list_runs(apb.ListRunsRequest()).runs)


def test_tls_serves_clients_that_trust_the_ca(tls: Secured, pki: Pki) -> None:
    assert list_runs(tls.target, Credentials(token=READER_TOKEN, ca=pki.ca.pem)) == 0
    with pytest.raises(ClientError) as caught:  # plaintext to a TLS port
        list_runs(tls.target, Credentials(token=READER_TOKEN, insecure=True))
    assert caught.value.code is grpc.StatusCode.UNAVAILABLE
    with pytest.raises(ClientError) as caught:  # a CA that did not sign it
        list_runs(tls.target, Credentials(token=READER_TOKEN, ca=TestCA().pem))
    assert caught.value.code is grpc.StatusCode.UNAVAILABLE
    with pytest.raises(ClientError) as caught:  # TLS is no credential by itself
        list_runs(tls.target, Credentials(ca=pki.ca.pem))
    assert caught.value.code is grpc.StatusCode.UNAUTHENTICATED


def test_the_cli_connects_with_ca_and_token(tls: Secured, pki: Pki) -> None:
    result = CliRunner().invoke(
        app,
        ["--server", tls.target, "--ca", str(pki.cert.with_name("ca.pem")), "checks", "list"],
    )
    assert result.exit_code == 1 and "--ca" in result.stderr  # unreadable file: one line
    (pki.folder / "ca.pem").write_bytes(pki.ca.pem)
    result = CliRunner().invoke(
        app,
        ["--server", tls.target, "--ca", str(pki.folder / "ca.pem"), "checks", "list"],
        env={"ASSAY_TOKEN": READER_TOKEN},
    )
    assert result.exit_code == 0, result.output
    assert "SEC-001" in result.stdout


def test_mutual_tls_identifies_the_caller_by_certificate(mtls: Secured, pki: Pki) -> None:
    writer = pki.ca.client("cert-writer", "assay:writers")
    reader = pki.ca.client("cert-reader", "viewers")
    as_writer = Credentials(ca=pki.ca.pem, cert=writer.cert_pem, key=writer.key_pem)
    as_reader = Credentials(ca=pki.ca.pem, cert=reader.cert_pem, key=reader.key_pem)
    assert list_runs(mtls.target, as_reader) == 0
    with AssayClient(mtls.target, timeout_s=5, credentials=as_reader) as client:
        with pytest.raises(ClientError) as caught:
            client.cancel_run("run_x")
        assert caught.value.code is grpc.StatusCode.PERMISSION_DENIED
    with AssayClient(mtls.target, timeout_s=5, credentials=as_writer) as client:
        with pytest.raises(ClientError) as caught:
            client.cancel_run("run_x")
        assert caught.value.code is grpc.StatusCode.NOT_FOUND  # authorised
    with pytest.raises(ClientError) as caught:  # no client certificate: no handshake
        list_runs(mtls.target, Credentials(token=READER_TOKEN, ca=pki.ca.pem))
    assert caught.value.code is grpc.StatusCode.UNAVAILABLE
    stranger = TestCA().client("mallory", "assay:writers")
    with pytest.raises(ClientError) as caught:  # signed by another CA
        list_runs(
            mtls.target, Credentials(ca=pki.ca.pem, cert=stranger.cert_pem, key=stranger.key_pem)
        )
    assert caught.value.code is grpc.StatusCode.UNAVAILABLE


def test_a_rotated_certificate_is_served_without_a_restart(tls: Secured, pki: Pki) -> None:
    credentials = Credentials(token=READER_TOKEN, ca=pki.ca.pem)
    assert list_runs(tls.target, credentials) == 0
    rotated_ca = TestCA("rotated CA")
    rotated = rotated_ca.server()
    # A half-written rotation (new certificate, old key) keeps the old pair in service.
    pki.cert.write_bytes(rotated.cert_pem)
    os.utime(pki.cert, ns=(1, 1))
    assert list_runs(tls.target, credentials) == 0
    pki.key.write_bytes(rotated.key_pem)
    os.utime(pki.key, ns=(2, 2))
    with pytest.raises(ClientError):  # the old CA no longer verifies the new certificate
        list_runs(tls.target, credentials)
    assert list_runs(tls.target, Credentials(token=READER_TOKEN, ca=rotated_ca.pem)) == 0


def test_unusable_tls_files_stop_the_start_naming_the_setting(
    sqlite_repository: Repository, pki: Pki
) -> None:
    pki.key.write_bytes(TestCA().server().key_pem)
    server = AssayServer(tls_settings(pki), repository=sqlite_repository)
    with pytest.raises(StartupError, match=r"^ASSAY_TLS_CERT \(--tls-cert\): .*does not belong"):
        asyncio.run(server.start())
