"""The static token file: its format, lookups by digest, and reloads that keep the last good."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assay.server.auth.principal import Principal, Via
from assay.server.auth.tokens import StaticTokens, TokenFileError, parse_token_file

SECRET = "s3cr3t-t0ken-value"


def test_lines_become_principals_by_digest() -> None:
    table = parse_token_file(
        f"# comment\n\n{SECRET},alice,assay:writers|ops\n  other-token , bob  \n"
    )
    assert sorted(table.values(), key=lambda p: p.user) == [
        Principal("alice", frozenset({"assay:writers", "ops"}), Via.TOKEN_FILE),
        Principal("bob", frozenset(), Via.TOKEN_FILE),
    ]
    assert all(SECRET.encode() not in key for key in table)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"{SECRET}\n", "line 1: expected 'token,user,group1|group2'"),
        (f"ok,a\n{SECRET},\n", "line 2: expected"),
        (f"{SECRET},a,b,c\n", "line 1: expected"),
        (f"{SECRET}\u00e9,a\n", "line 1: the token must be printable ASCII"),
        (f"{SECRET},a\n{SECRET},b\n", "line 2: the same token appears twice"),
    ],
)
def test_a_bad_file_names_the_line_never_the_token(text: str, message: str) -> None:
    with pytest.raises(TokenFileError) as caught:
        parse_token_file(text)
    assert str(caught.value).startswith(message)
    assert SECRET not in str(caught.value)


async def test_the_file_is_reloaded_when_it_changes_and_a_bad_version_keeps_the_last_good(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "tokens.csv"
    path.write_text(f"{SECRET},alice,writers\n")
    tokens = StaticTokens(str(path))
    tokens.load()
    assert await tokens.authenticate(SECRET) == Principal("alice", frozenset({"writers"}))
    assert await tokens.authenticate("nope") is None

    path.write_text(f"{SECRET},alice\nnew-token,carol,ops\n")
    os.utime(path, ns=(1, 1))  # a new modification time, whatever the clock's resolution
    assert await tokens.authenticate("new-token") == Principal("carol", frozenset({"ops"}))

    path.write_text(f"{SECRET}\n")  # broken: the previous table stays
    os.utime(path, ns=(2, 2))
    assert await tokens.authenticate("new-token") is not None
    assert "not reloaded" in caplog.text and "line 1" in caplog.text
    assert SECRET not in caplog.text

    path.unlink()  # gone: the previous table stays too
    assert await tokens.authenticate(SECRET) is not None
