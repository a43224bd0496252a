"""The CLI's manifest reader: files, trees (sorted, hidden skipped), stdin, names kept."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from assay.client.manifests import ManifestInputError, manifest_inputs, read_chunks


def test_trees_are_read_recursively_in_order_with_the_given_names(tmp_path: Path) -> None:
    (tmp_path / "b" / ".git").mkdir(parents=True)
    for name in ("b/two.yml", "a.json", "b/.hidden.yaml", "b/.git/x.yaml", "c.txt", "Z.YAML"):
        (tmp_path / name).write_text("{}")
    single = tmp_path / "a.json"
    inputs = manifest_inputs([str(tmp_path), "-", str(single)])
    assert [i.name for i in inputs] == [
        f"{tmp_path}/Z.YAML",
        f"{tmp_path}/a.json",
        f"{tmp_path}/b/two.yml",
        "<stdin>",
        str(single),
    ]
    assert inputs[3].path is None


@pytest.mark.parametrize(
    ("paths", "message"),
    [
        (["-", "-"], "can be given once"),
        (["nowhere"], "nowhere: no such file or directory"),
    ],
)
def test_bad_paths_are_refused(paths: list[str], message: str) -> None:
    with pytest.raises(ManifestInputError, match=message):
        manifest_inputs(paths)


def test_an_empty_tree_is_refused(tmp_path: Path) -> None:
    (tmp_path / "readme.md").write_text("")
    with pytest.raises(ManifestInputError, match=r"no \.yaml, \.yml or \.json files"):
        manifest_inputs([str(tmp_path)])


def test_files_are_read_in_chunks_and_an_empty_one_is_one_empty_chunk(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_bytes(b"0123456789")
    (tmp_path / "empty.yaml").write_bytes(b"")
    [a, empty] = manifest_inputs([str(tmp_path / "a.yaml"), str(tmp_path / "empty.yaml")])
    assert list(read_chunks(a, io.BytesIO(), chunk_bytes=4)) == [b"0123", b"4567", b"89"]
    assert list(read_chunks(empty, io.BytesIO())) == [b""]
    [stdin] = manifest_inputs(["-"])
    assert list(read_chunks(stdin, io.BytesIO(b"kind: Pod"))) == [b"kind: Pod"]
