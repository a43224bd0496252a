"""How the client reaches a server: plaintext only on loopback unless told, TLS otherwise;
the token as call metadata; and the CLI's credential options."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.client.api import Credentials, is_loopback_target
from assay.client.cli.common import CredentialOptions


@pytest.mark.parametrize(
    ("target", "loopback"),
    [
        ("127.0.0.1:50051", True),
        ("127.1.2.3:1", True),
        ("localhost:50051", True),
        ("[::1]:50051", True),
        ("unix:/run/assay.sock", True),
        ("10.0.0.1:50051", False),
        ("assay.kubernaut-system.svc:50051", False),
        ("[2001:db8::1]:50051", False),
    ],
)
def test_loopback_targets(target: str, loopback: bool) -> None:
    assert is_loopback_target(target) is loopback


def test_plaintext_only_for_loopback_unless_insecure_or_tls_material() -> None:
    assert Credentials().plaintext("127.0.0.1:50051")
    assert not Credentials().plaintext("assay.example:443")
    assert Credentials(insecure=True).plaintext("assay.example:443")
    assert not Credentials(ca=b"pem").plaintext("127.0.0.1:50051")


def test_the_token_is_sent_as_bearer_metadata_and_must_be_printable() -> None:
    assert Credentials(token="abc").metadata == (("authorization", "Bearer abc"),)
    assert Credentials().metadata == ()
    with pytest.raises(ValueError, match="printable ASCII") as caught:
        Credentials(token="line\nbreak")
    assert "break" not in str(caught.value)
    with pytest.raises(ValueError, match="needs its key"):
        Credentials(cert=b"pem")


def test_cli_options_read_their_files(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("  from-file\n")
    assert CredentialOptions(token_file=token).load().token == "from-file"
    assert CredentialOptions(token=" flag ").load().token == "flag"
    for options, message in (
        (CredentialOptions(token="a", token_file=token), "not both"),
        (CredentialOptions(cert=token), "--cert and --key go together"),
        (CredentialOptions(insecure=True, ca=token), "cannot go with --ca"),
        (CredentialOptions(ca=tmp_path / "absent.pem"), "--ca .*absent.pem"),
    ):
        with pytest.raises(ValueError, match=message):
            options.load()
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ValueError, match="the file is empty"):
        CredentialOptions(token_file=tmp_path / "empty").load()
