"""TLS files: checked before use, reloaded on change, the last good set kept on a bad one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assay.server.auth.principal import Principal, Via
from assay.server.auth.settings import TlsSettings
from assay.server.auth.tls import TlsError, TlsFiles, certificate_principal
from tests.certificates import TestCA


def files(tmp_path: Path, *, mutual: bool = False) -> tuple[TlsSettings, TestCA]:
    ca = TestCA()
    ca.server().write(tmp_path / "tls.crt", tmp_path / "tls.key")
    client_ca = ""
    if mutual:
        (tmp_path / "ca.crt").write_bytes(ca.pem)
        client_ca = str(tmp_path / "ca.crt")
    settings = TlsSettings(
        cert=str(tmp_path / "tls.crt"), key=str(tmp_path / "tls.key"), client_ca=client_ca
    )
    return settings, ca


def touch(path: Path, tick: int) -> None:
    os.utime(path, ns=(tick, tick))


def test_load_checks_the_key_belongs_to_the_certificate(tmp_path: Path) -> None:
    settings, ca = files(tmp_path, mutual=True)
    material = TlsFiles(settings).load()
    assert material.mutual and material.chain == (tmp_path / "tls.crt").read_bytes()
    other = ca.server()
    (tmp_path / "tls.key").write_bytes(other.key_pem)
    with pytest.raises(TlsError, match="does not belong"):
        TlsFiles(settings).load()
    (tmp_path / "tls.key").write_text("not a key")
    with pytest.raises(TlsError, match="not an unencrypted PEM private key") as caught:
        TlsFiles(settings).load()
    assert "not a key" not in str(caught.value)


def test_refresh_returns_new_material_only_when_a_good_set_changed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings, ca = files(tmp_path)
    tls = TlsFiles(settings)
    first = tls.load()
    assert tls.refresh() is None  # unchanged

    rotated = ca.server("rotated")
    (tmp_path / "tls.crt").write_bytes(rotated.cert_pem)  # half-written: old key
    touch(tmp_path / "tls.crt", 1)
    assert tls.refresh() is None
    assert tls.current == first and "not reloaded" in caplog.text
    assert rotated.key_pem.decode() not in caplog.text

    (tmp_path / "tls.key").write_bytes(rotated.key_pem)  # the pair is complete
    touch(tmp_path / "tls.key", 2)
    fresh = tls.refresh()
    assert fresh is not None and fresh.chain == rotated.cert_pem
    assert tls.current == fresh and tls.reloads == 1


def test_a_client_certificate_names_the_user_and_groups() -> None:
    ca = TestCA()
    assert certificate_principal(ca.client("dana", "assay:writers").cert_pem) == Principal(
        "dana", frozenset({"assay:writers"}), Via.CLIENT_CERTIFICATE
    )
    assert certificate_principal(b"garbage") is None
