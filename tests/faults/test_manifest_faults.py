"""Hostile manifest input: each case ends in a diagnostic, bounded memory and a run that goes on.

The cases that would exhaust memory if the bounds regressed (an alias bomb, a link to
``/dev/zero``) run in a child interpreter under a 512 MiB address-space cap
(tests/faults/capped_read.py), which also reports its peak RSS (shown with ``pytest -s``).
Cases marked ``heavy`` use full-size inputs (100k documents, the default byte limits); they
run in the normal suite and can be left out with ``-m "not heavy"``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assay.server.assessment.providers import ManifestInventory
from assay.server.assessment.requests import ManifestTree, RunRequest
from assay.server.assessment.runner import Runner
from assay.server.checks.kit.catalogue import Catalogue
from assay.server.core.types import RunState, Source, Status
from assay.server.inventory import Diagnostic, ManifestLimits, load_manifests, read_manifests
from assay.server.inventory.limits import MiB
from assay.server.inventory.tree import iter_tree
from tests.unit.assessment.fakes import MemorySink, fake_check, per_pod, registry

CAP_MIB = 512
CAPPED_READ = Path(__file__).with_name("capped_read.py")
VALID = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: shop\n"


def alias_bomb(levels: int, where: str = "name") -> str:
    """A ConfigMap whose ``metadata.<where>`` is an alias standing for 10**levels strings."""
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [{','.join([f'*l{level - 1}'] * 10)}]")
    lines += ["apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: bomb"]
    lines.append(f"  {where}: *l{levels - 1}")
    return "\n".join(lines) + "\n"


def capped_read(path: Path) -> dict[str, Any]:
    """read_manifests(path) in a child under CAP_MIB; its output (it must not die)."""
    command = [sys.executable, str(CAPPED_READ), str(CAP_MIB), str(path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    figures: dict[str, Any] = json.loads(done.stdout)
    print(f"peak RSS reading {path.name}: {figures['peak_rss_kib'] / 1024:.1f} MiB")
    return figures


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A directory holding one valid manifest, ``0-valid.yaml``."""
    root = tmp_path / "manifests"
    root.mkdir()
    (root / "0-valid.yaml").write_text(VALID.format(name="valid"))
    return root


# -- memory -------------------------------------------------------------------------------------


def test_alias_bomb_of_8_levels_ends_in_a_diagnostic_under_a_memory_cap(tree: Path) -> None:
    (tree / "bomb.yaml").write_text(alias_bomb(8))
    found = capped_read(tree)
    assert found["objects"] == ["valid"]
    [diagnostic] = found["diagnostics"]
    assert diagnostic.startswith(f"{tree / 'bomb.yaml'}:")
    assert "more than 1,000,000 values with its aliases expanded (the limit)" in diagnostic
    assert found["peak_rss_kib"] < CAP_MIB * 1024


@pytest.mark.parametrize("where", ["name", "namespace", "labels", "annotations"])
def test_alias_bombs_anywhere_in_metadata_cost_one_diagnostic(tree: Path, where: str) -> None:
    (tree / "bomb.yaml").write_text(alias_bomb(6, where) + "---\n" + VALID.format(name="after"))
    objects, [diagnostic] = read_manifests(tree)
    assert [o["metadata"]["name"] for o in objects] == ["valid", "after"]
    # the anchor on line 6 already stands for a million strings
    assert (diagnostic.document, diagnostic.line) == (1, 6)
    assert "aliases expanded" in diagnostic.message


def test_a_link_to_dev_zero_is_never_read(tree: Path) -> None:
    (tree / "zero.yaml").symlink_to("/dev/zero")
    found = capped_read(tree)
    assert found["objects"] == ["valid"]
    assert found["diagnostics"] == [
        f"{tree / 'zero.yaml'}: not a regular file but a character device; not read"
    ]
    (tree.parent / "zero.json").symlink_to("/dev/zero")
    assert capped_read(tree.parent / "zero.json")["diagnostics"] == [
        f"{tree.parent / 'zero.json'}: not a regular file but a character device; not read"
    ]


def test_files_over_the_size_limit_are_not_read(tree: Path) -> None:
    sparse = tree / "huge.yaml"
    with sparse.open("wb") as handle:
        handle.truncate(16 * MiB + 1)  # a hole: no disk space, but st_size says 16 MiB + 1
    objects, [diagnostic] = read_manifests(tree)
    assert [o["metadata"]["name"] for o in objects] == ["valid"]
    assert diagnostic.message == (
        "is 16,777,217 bytes, over the limit of 16,777,216 bytes per file; not read"
    )


def test_files_past_the_total_limit_are_counted_not_read(tree: Path) -> None:
    for index in range(1, 6):
        (tree / f"{index}.yaml").write_text(VALID.format(name=f"cm-{index}") + "#" * 100)
    limits = ManifestLimits(max_total_bytes=450)  # the valid file and two of 171 bytes
    objects, [diagnostic] = read_manifests(tree, limits)
    assert [o["metadata"]["name"] for o in objects] == ["valid", "cm-1", "cm-2"]
    assert (diagnostic.path, diagnostic.message) == (
        str(tree / "3.yaml"),
        "over the limit of 450 bytes for all files: this file and the 2 after it are not read",
    )


def test_the_walk_stops_after_the_file_count_limit(tree: Path) -> None:
    for index in range(1, 5):
        (tree / f"{index}.yaml").write_text(VALID.format(name=f"cm-{index}"))
    objects, [diagnostic] = read_manifests(tree, ManifestLimits(max_files=3))
    assert [o["metadata"]["name"] for o in objects] == ["valid", "cm-1", "cm-2"]
    assert diagnostic.path == str(tree / "3.yaml")
    assert "more than 3 manifest files (the limit)" in diagnostic.message


@pytest.mark.heavy
def test_the_default_byte_limits_hold_on_full_size_files(tree: Path) -> None:
    """A file just over 16 MiB is refused, four just under fit the 64 MiB total with the
    small valid file, and the sixth does not."""
    filler = "#" * (16 * MiB - 200) + "\n"
    (tree / "0-over.yaml").write_text(VALID.format(name="over") + "#" * (16 * MiB))
    for index in range(1, 6):
        (tree / f"{index}.yaml").write_text(VALID.format(name=f"cm-{index}") + filler)
    objects, [over, total] = read_manifests(tree)
    assert [o["metadata"]["name"] for o in objects] == ["valid", "cm-1", "cm-2", "cm-3", "cm-4"]
    assert over.path == str(tree / "0-over.yaml") and "bytes per file; not read" in over.message
    assert (total.path, total.message) == (
        str(tree / "5.yaml"),
        "over the limit of 67,108,864 bytes for all files: this file is not read",
    )


# -- files that are not files -----------------------------------------------------------------


@pytest.mark.timeout(10)
def test_a_fifo_is_reported_and_never_opened(tree: Path) -> None:
    """Opening a FIFO for reading blocks until a writer comes: none will, so a regression
    hangs here until the timeout fails the test."""
    os.mkfifo(tree / "pipe.yaml")
    (tree / "link-to-pipe.yaml").symlink_to(tree / "pipe.yaml")
    objects, diagnostics = read_manifests(tree)
    assert [o["metadata"]["name"] for o in objects] == ["valid"]
    assert [str(d) for d in diagnostics] == [
        f"{tree / 'link-to-pipe.yaml'}: not a regular file but a named pipe (FIFO); not read",
        f"{tree / 'pipe.yaml'}: not a regular file but a named pipe (FIFO); not read",
    ]
    objects, [diagnostic] = read_manifests(tree / "pipe.yaml")
    assert objects == [] and "named pipe" in diagnostic.message


def test_a_socket_is_reported(tree: Path) -> None:
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(tree / "s.yaml"))
        objects, [diagnostic] = read_manifests(tree)
    assert [o["metadata"]["name"] for o in objects] == ["valid"]
    assert diagnostic.message == "not a regular file but a socket; not read"


def test_a_dangling_link_is_reported(tree: Path) -> None:
    (tree / "gone.yaml").symlink_to(tree / "nowhere.yaml")
    _, [diagnostic] = read_manifests(tree)
    assert diagnostic.message == "cannot read: No such file or directory"


def test_a_link_loop_is_reported(tree: Path) -> None:
    (tree / "a.yaml").symlink_to(tree / "b.yaml")
    (tree / "b.yaml").symlink_to(tree / "a.yaml")
    _, diagnostics = read_manifests(tree)
    assert [d.message for d in diagnostics] == [
        "cannot read: Too many levels of symbolic links"
    ] * 2


def test_file_names_that_are_not_utf8_are_read_and_shown_with_replacement(tree: Path) -> None:
    raw = os.fsencode(tree) + b"/caf\xe9.yaml"
    with open(raw, "wb") as handle:
        handle.write(VALID.format(name="latin-1-named").encode())
    fifo = os.fsencode(tree) + b"/pipe-\xff.yaml"
    os.mkfifo(fifo)
    inventory = load_manifests(tree)
    origin = inventory.origin("ConfigMap", "shop", "latin-1-named")
    assert origin is not None and origin.path == f"{tree}/caf\ufffd.yaml"
    [diagnostic] = inventory.diagnostics
    assert diagnostic.path == f"{tree}/pipe-\ufffd.yaml"
    str(diagnostic).encode("utf-8")  # storable and printable


# -- unreadable directories and files ---------------------------------------------------------


NOBODY = 65534
_READ_AS_NOBODY = """
import json, os, sys
from assay.server.inventory.manifests import read_manifests
os.setgid(int(sys.argv[2]))
os.setuid(int(sys.argv[2]))
objects, diagnostics = read_manifests(sys.argv[1])
print(json.dumps({
    "names": [o["metadata"]["name"] for o in objects],
    "diagnostics": [[d.path, d.message] for d in diagnostics],
}))
"""


def read_unprivileged(root: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """``read_manifests(root)`` as a user that mode-000 files really lock out: this process
    when it is not root, else a child process running as nobody (root reads everything)."""
    if os.geteuid() != 0:
        objects, diagnostics = read_manifests(root)
        return [o["metadata"]["name"] for o in objects], [(d.path, d.message) for d in diagnostics]

    # The child imports as root (the interpreter lives under root's home), then drops to
    # nobody before it reads the tree.
    done = subprocess.run(
        [sys.executable, "-c", _READ_AS_NOBODY, str(root), str(NOBODY)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    found = json.loads(done.stdout)
    return found["names"], [tuple(d) for d in found["diagnostics"]]


@pytest.fixture
def open_tree() -> Iterator[Path]:
    """A manifest tree any user can traverse (pytest's tmp_path is private to its owner)."""
    root = Path(tempfile.mkdtemp(prefix="assay-faults-"))
    root.chmod(0o755)
    (root / "0-valid.yaml").write_text(VALID.format(name="valid"))
    (root / "0-valid.yaml").chmod(0o644)
    try:
        yield root
    finally:
        for path in root.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        shutil.rmtree(root)


def test_an_unreadable_directory_is_a_diagnostic(open_tree: Path) -> None:
    locked = open_tree / "locked"
    locked.mkdir()
    (locked / "inside.yaml").write_text(VALID.format(name="inside"))
    locked.chmod(0)
    names, diagnostics = read_unprivileged(open_tree)
    assert names == ["valid"]
    assert diagnostics == [(str(locked), "cannot list directory: Permission denied")]


def test_a_directory_that_cannot_be_listed_mid_walk_is_a_diagnostic(tree: Path) -> None:
    """Works for any user, root included: the directory goes away after the walk started
    and before it is listed (directories are listed when the walk reaches them)."""
    later = tree / "later"
    later.mkdir()
    (later / "inside.yaml").write_text(VALID.format(name="inside"))
    (tree / "z.yaml").write_text(VALID.format(name="z"))
    diagnostics: list[Diagnostic] = []
    files = iter_tree(tree, ManifestLimits(), diagnostics.append)
    first = next(files)
    assert first.name == str(tree / "0-valid.yaml")
    shutil.rmtree(later)
    rest = [f.name for f in files]
    assert rest == [str(tree / "z.yaml")]
    assert [(d.path, d.message) for d in diagnostics] == [
        (str(later), "cannot list directory: No such file or directory")
    ]


def test_an_unreadable_file_is_a_diagnostic(open_tree: Path) -> None:
    locked = open_tree / "locked.yaml"
    locked.write_text(VALID.format(name="locked"))
    locked.chmod(0)
    names, diagnostics = read_unprivileged(open_tree)
    assert names == ["valid"]
    assert diagnostics == [(str(locked), "cannot read: Permission denied")]


def test_a_file_gone_between_listing_and_reading_is_a_diagnostic(tree: Path) -> None:
    (tree / "a.yaml").write_text(VALID.format(name="a"))
    (tree / "b.yaml").write_text(VALID.format(name="b"))
    diagnostics: list[Diagnostic] = []
    files = iter_tree(tree, ManifestLimits(), diagnostics.append)
    assert next(files).name == str(tree / "0-valid.yaml")
    (tree / "a.yaml").unlink()
    assert [f.name for f in files] == [str(tree / "b.yaml")]
    assert [str(d) for d in diagnostics] == [
        f"{tree / 'a.yaml'}: cannot read: No such file or directory"
    ]


# -- deep nesting -------------------------------------------------------------------------------


def test_10k_deep_json_is_a_diagnostic_and_the_files_beside_it_load(tree: Path) -> None:
    (tree / "deep.json").write_text("[" * 10_000 + "]" * 10_000)
    (tree / "deep-list.json").write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "List",
                "items": [json.loads(VALID_JSON.format(name="in-list")), []],
            }
        ).replace("[]", "[" * 10_000 + "]" * 10_000)
    )
    (tree / "z-after.json").write_text(VALID_JSON.format(name="after"))
    objects, diagnostics = read_manifests(tree)
    assert [o["metadata"]["name"] for o in objects] == ["valid", "after"]
    assert [(Path(d.path).name, d.message) for d in diagnostics] == [
        ("deep-list.json", "nested deeper than 64 levels (the limit); document skipped"),
        ("deep.json", "nested deeper than 64 levels (the limit); document skipped"),
    ]


VALID_JSON = '{{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {{"name": "{name}"}}}}'


def test_deep_yaml_is_a_diagnostic_and_the_files_beside_it_load(tree: Path) -> None:
    (tree / "deep-block.yaml").write_text("- " * 200 + "x\n---\n" + VALID.format(name="next"))
    (tree / "deep-flow.yaml").write_text("[" * 10_000 + "]" * 10_000 + "\n")
    (tree / "z-after.yaml").write_text(VALID.format(name="after"))
    objects, diagnostics = read_manifests(tree)
    assert [o["metadata"]["name"] for o in objects] == ["valid", "next", "after"]
    block, flow = diagnostics
    assert (Path(block.path).name, block.document, block.message) == (
        "deep-block.yaml",
        1,
        "nested deeper than 64 levels (the limit); document skipped",
    )
    # libyaml itself stops at 1,000 levels, before handing over the first event
    assert Path(flow.path).name == "deep-flow.yaml"
    assert flow.message.startswith("does not parse: ") and "maximum nesting depth" in flow.message


# -- many documents -----------------------------------------------------------------------------


def not_kubernetes(count: int) -> str:
    return "".join(f"---\nnote: {index}\n" for index in range(count))


async def _run(path: Path, limits: ManifestLimits | None = None) -> Any:
    provider = ManifestInventory() if limits is None else ManifestInventory(limits)
    runner = Runner(
        catalogue=Catalogue(registry(fake_check("SEC-001", per_pod(Status.PASSING)))),
        sink=MemorySink(),
        inventories={Source.MANIFESTS: provider},
    )
    request = RunRequest(source=Source.MANIFESTS, manifests=ManifestTree(str(path)))
    started = await runner.start(request)
    return await runner.wait(started.run_id)


async def test_thousands_of_bad_documents_leave_a_small_run_record(tree: Path) -> None:
    for part in range(3):
        (tree / f"notes-{part}.yaml").write_text(not_kubernetes(1000))
    run = await _run(tree)
    assert run.state is RunState.COMPLETED
    assert len(run.diagnostics) == 101
    assert run.diagnostics[-1] == (
        f"{tree}: and 2,900 more problems not shown (at most 100 are kept per run)"
    )
    assert sum(len(d) for d in run.diagnostics) < 30_000
    smaller = await _run(tree, ManifestLimits(max_diagnostics=5))
    assert len(smaller.diagnostics) == 6 and "and 2,995 more" in smaller.diagnostics[-1]


@pytest.mark.heavy
async def test_100k_documents_in_one_file_leave_a_small_run_record(tree: Path) -> None:
    (tree / "notes.yaml").write_text(not_kubernetes(100_000))
    run = await _run(tree)
    assert run.state is RunState.COMPLETED
    assert len(run.diagnostics) == 101
    # 10,000 documents read (the per-file limit), one diagnostic for the rest of the file
    assert run.diagnostics[-1].endswith(
        ": and 9,901 more problems not shown (at most 100 are kept per run)"
    )
    assert sum(len(d) for d in run.diagnostics) < 30_000


@pytest.mark.heavy
def test_100k_documents_across_files_under_a_memory_cap(tree: Path) -> None:
    for part in range(100):
        (tree / f"notes-{part:03}.yaml").write_text(not_kubernetes(1000))
    found = capped_read(tree)
    assert found["objects"] == ["valid"]
    assert len(found["diagnostics"]) == 101
    assert "and 99,900 more problems not shown" in found["diagnostics"][-1]
