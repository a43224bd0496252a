"""Loading manifests: files and trees, multi-document YAML, Lists, JSON, origins, bad input.

Hostile files and filesystems (alias bombs, FIFOs, devices, deep nesting, huge inputs) are in
tests/faults/test_manifest_faults.py; this module covers what a document may hold.
"""

from __future__ import annotations

import codecs
import json
from pathlib import Path
from typing import Any

import pytest

from assay.server.core.types import Source
from assay.server.inventory import (
    Diagnostic,
    InventoryError,
    ManifestLimits,
    ManifestPathNotFound,
    Origin,
    load_manifests,
    parse_manifest,
    read_manifests,
)
from assay.server.inventory.errors import InventoryError as ErrorsModuleBase
from assay.server.inventory.manifests import load_files
from assay.server.inventory.provenance import DiagnosticLog
from assay.server.inventory.tree import ManifestFile

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: shop\n"


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def parse(text: str | bytes, name: str = "m.yaml", **limits: int) -> tuple[list[Any], list[str]]:
    """(objects, diagnostic messages) of one file's content."""
    data = text.encode() if isinstance(text, str) else text
    objects, diagnostics = parse_manifest(name, data, ManifestLimits(**limits))
    return [p.object for p in objects], [d.message for d in diagnostics]


def names(objects: list[Any]) -> list[str]:
    return [o["metadata"]["name"] for o in objects]


# -- documents, Lists, JSON, order ---------------------------------------------------------


def test_multi_document_yaml_skips_empty_documents(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "app.yaml",
        "---\n# only a comment\n---\n"
        + CONFIGMAP.format(name="a")
        + "---\n---\n"
        + CONFIGMAP.format(name="b")
        + "...\n",
    )
    inventory = load_manifests(path)
    assert inventory.source is Source.MANIFESTS
    assert [o["metadata"]["name"] for o in inventory.objects("ConfigMap")] == ["a", "b"]
    assert inventory.diagnostics == ()


def test_kind_list_and_typed_lists_are_expanded(tmp_path: Path) -> None:
    text = """
apiVersion: v1
kind: List
items:
  - {apiVersion: v1, kind: ConfigMap, metadata: {name: one, namespace: shop}}
  - {apiVersion: v1, kind: Service, metadata: {name: two, namespace: shop}}
---
apiVersion: v1
kind: ConfigMapList
items:
  - {apiVersion: v1, kind: ConfigMap, metadata: {name: three, namespace: shop}}
"""
    inventory = load_manifests(write(tmp_path, "list.yml", text))
    assert len(inventory) == 3
    assert inventory.get("Service", "shop", "two") is not None


def test_json_files_are_read(tmp_path: Path) -> None:
    doc = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "payments"}}
    inventory = load_manifests(write(tmp_path, "ns.json", json.dumps(doc)))
    assert inventory.get("Namespace", "", "payments") == doc
    assert inventory.namespaces() == ("payments",)


def test_directory_tree_is_read_in_sorted_order_and_skips_other_files(tmp_path: Path) -> None:
    write(tmp_path, "b/z.yaml", CONFIGMAP.format(name="from-b-z"))
    write(tmp_path, "a.yml", CONFIGMAP.format(name="from-a"))
    write(
        tmp_path,
        "b/a.JSON",
        json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "from-b-a"}}),
    )
    write(tmp_path, "a/x.yaml", CONFIGMAP.format(name="from-a-dir"))
    write(tmp_path, "README.md", "not a manifest")
    write(tmp_path, ".git/config.yaml", CONFIGMAP.format(name="hidden"))
    write(tmp_path, ".hidden.yaml", CONFIGMAP.format(name="hidden-file"))
    objects, diagnostics = read_manifests(tmp_path)
    assert names(objects) == ["from-a-dir", "from-a", "from-b-a", "from-b-z"]
    assert diagnostics == []


def test_a_single_file_is_read_whatever_its_suffix(tmp_path: Path) -> None:
    path = write(tmp_path, "manifest.txt", CONFIGMAP.format(name="x"))
    assert len(load_manifests(path)) == 1


def test_links_to_files_are_read_and_links_to_directories_reported(tmp_path: Path) -> None:
    real = write(tmp_path, "elsewhere/real.yaml", CONFIGMAP.format(name="linked"))
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "link.yaml").symlink_to(real)
    (tree / "dir").symlink_to(real.parent, target_is_directory=True)
    objects, [diagnostic] = read_manifests(tree)
    assert names(objects) == ["linked"]
    assert diagnostic.path == str(tree / "dir") and "not followed" in diagnostic.message


def test_nonexistent_path_raises_inventory_error(tmp_path: Path) -> None:
    with pytest.raises(ManifestPathNotFound, match="does not exist") as caught:
        load_manifests(tmp_path / "nope")
    assert isinstance(caught.value, InventoryError)
    assert InventoryError is ErrorsModuleBase
    with pytest.raises(ManifestPathNotFound):
        load_manifests(tmp_path / "not-a-dir.yaml" / "below")


# -- origins ----------------------------------------------------------------------------------


def test_each_object_keeps_its_file_document_and_line(tmp_path: Path) -> None:
    # a comment before the first "---" is no document of its own
    write(tmp_path, "a.yaml", "# header\n---\n" + CONFIGMAP.format(name="first"))
    yaml_list = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: one, namespace: shop}
- {apiVersion: v1, kind: Service, metadata: {name: two, namespace: shop}}
"""
    write(tmp_path, "b.yaml", CONFIGMAP.format(name="second") + "---\n" + yaml_list)
    items = [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"s{i}", "namespace": "x"}}
        for i in range(3)
    ]
    write(tmp_path, "c.json", json.dumps({"kind": "List", "items": items}, indent=1))
    inventory = load_manifests(tmp_path)
    b, c = str(tmp_path / "b.yaml"), str(tmp_path / "c.json")
    assert inventory.origin("ConfigMap", "shop", "first") == Origin(str(tmp_path / "a.yaml"), 1, 3)
    assert inventory.origin("ConfigMap", "shop", "second") == Origin(b, 1, 1)
    assert inventory.origin("Service", "shop", "one") == Origin(b, 2, 10, 0)
    assert inventory.origin("Service", "shop", "two") == Origin(b, 2, 13, 1)
    # json.dumps(indent=1) opens each item on its own line, 8 lines per item
    assert [inventory.origin("Secret", "x", f"s{i}") for i in range(3)] == [
        Origin(c, 1, 4 + 8 * i, i) for i in range(3)
    ]
    assert str(inventory.origin("Service", "shop", "two")) == f"{b}:13 (document 2, item 1)"
    assert inventory.origin("Secret", "x", "nope") is None


def test_duplicates_keep_the_later_object_and_its_origin(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", CONFIGMAP.format(name="dup") + "data: {v: '1'}\n")
    write(tmp_path, "b.yaml", "\n" + CONFIGMAP.format(name="dup") + "data: {v: '2'}\n")
    inventory = load_manifests(tmp_path)
    assert inventory.get("ConfigMap", "shop", "dup") == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "dup", "namespace": "shop"},
        "data": {"v": "2"},
    }
    assert inventory.origin("ConfigMap", "shop", "dup") == Origin(str(tmp_path / "b.yaml"), 1, 2)
    [diagnostic] = inventory.diagnostics
    assert "duplicate ConfigMap shop/dup" in diagnostic.message
    assert f"also at {tmp_path / 'a.yaml'}:1" in diagnostic.message


# -- documents that are not usable objects -----------------------------------------------------


def test_bad_yaml_file_is_reported_and_loading_goes_on(tmp_path: Path) -> None:
    write(tmp_path, "1-good.yaml", CONFIGMAP.format(name="good"))
    write(
        tmp_path,
        "2-bad.yaml",
        CONFIGMAP.format(name="before-error") + "---\nkind: [unclosed\n",
    )
    write(tmp_path, "3-bad.json", "{not json")
    write(tmp_path, "4-later.yaml", CONFIGMAP.format(name="later"))
    inventory = load_manifests(tmp_path)
    assert names(list(inventory.objects("ConfigMap"))) == ["before-error", "good", "later"]
    bad_yaml, bad_json = inventory.diagnostics
    assert bad_yaml.path.endswith("2-bad.yaml") and bad_yaml.document == 2
    assert "does not parse" in bad_yaml.message
    assert (bad_json.document, bad_json.line) == (1, 1)
    assert "does not parse: Expecting property name" in bad_json.message
    assert str(bad_yaml).startswith(f"{bad_yaml.path}:8 (document 2): does not parse")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("- just\n- a list\n", "not a Kubernetes object: a list, not a mapping"),
        ("plain string\n", "a string, not a mapping"),
        ("kind: ConfigMap\nmetadata: {name: x}\n", "missing apiVersion"),
        ("apiVersion: v1\nmetadata: {name: x}\n", "missing kind"),
        ("apiVersion: v1\nkind: ConfigMap\n", "missing metadata"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: x-}\n", "metadata.name"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: [x]\n", "metadata is a list"),
        ("apiVersion: v1\nkind: [ConfigMap]\nmetadata: {name: x}\n", "kind is a list"),
        ("apiVersion: 1\nkind: ConfigMap\nmetadata: {name: x}\n", "apiVersion is a number"),
        ("apiVersion: v1\nkind: Config Map\nmetadata: {name: x}\n", "kind 'Config Map' is not"),
        ("apiVersion: v1/x/y\nkind: ConfigMap\nmetadata: {name: x}\n", "apiVersion 'v1/x/y'"),
    ],
)
def test_unusable_documents_become_diagnostics(tmp_path: Path, document: str, message: str) -> None:
    path = write(tmp_path, "x.yaml", CONFIGMAP.format(name="ok") + "---\n" + document)
    objects, diagnostics = read_manifests(path)
    assert len(objects) == 1
    [diagnostic] = diagnostics
    assert diagnostic.document == 2 and diagnostic.line == 7
    assert message in diagnostic.message and diagnostic.message.endswith("; skipped")


def test_invalid_list_item_names_its_index_and_line(tmp_path: Path) -> None:
    text = "apiVersion: v1\nkind: List\nitems:\n  - {kind: ConfigMap}\n"
    _, [diagnostic] = read_manifests(write(tmp_path, "l.yaml", text))
    assert (diagnostic.document, diagnostic.item, diagnostic.line) == (1, 0, 4)
    assert ":4 (document 1, item 0)" in str(diagnostic)


def test_namespaced_objects_without_namespace_go_to_default(tmp_path: Path) -> None:
    text = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:reader"}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  scope: Cluster
  names: {kind: Widget}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
---
apiVersion: example.com/v1
kind: Gadget
metadata: {name: g, namespace: ""}
"""
    inventory = load_manifests(write(tmp_path, "m.yaml", text))
    deployment = inventory.get("Deployment", "default", "web")
    assert deployment is not None and deployment["metadata"]["namespace"] == "default"
    assert inventory.get("ClusterRole", "", "system:reader") is not None
    assert inventory.get("Widget", "", "w") is not None
    assert inventory.get("Gadget", "default", "g") is not None
    assert inventory.diagnostics == ()


# -- names and metadata -------------------------------------------------------------------------


def meta_doc(meta: str, kind: str = "ConfigMap") -> str:
    return f"apiVersion: v1\nkind: {kind}\nmetadata: {meta}\n"


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ("{name: 5}", "metadata.name is a number, not a string"),
        ("{name: [a, b]}", "metadata.name is a list, not a string"),
        ("{name: x, namespace: [a, b]}", "metadata.namespace is a list, not a string"),
        ("{name: x, namespace: {a: b}}", "metadata.namespace is a mapping, not a string"),
        ("{name: x, namespace: 7}", "metadata.namespace is a number"),
        ("{name: Upper}", "metadata.name 'Upper' is not valid (it takes lower-case letters"),
        ("{name: a_b}", "metadata.name 'a_b' is not valid"),
        ("{name: -a}", "metadata.name '-a' is not valid"),
        (f"{{name: {'a' * 254}}}", "'... (254 characters) is longer than 253 characters"),
        (f"{{name: x, namespace: {'n' * 64}}}", "namespace 'nnnn"),
        ("{name: x, namespace: a.b}", "metadata.namespace 'a.b' is not valid"),
        ('{name: "a\\0b"}', "a string holds a NUL character"),
        ('{name: "a\\tb"}', "metadata.name 'a\\tb' is not valid"),
        ("{name: x, labels: {tier: 1}}", "metadata.labels 'tier' is a number, not a string"),
        ("{name: x, labels: [a]}", "metadata.labels is a list, not a mapping"),
        ("{name: x, annotations: {1: a}}", "metadata.annotations has a key that is a number"),
        ("{name: x, annotations: {a: {b: c}}}", "metadata.annotations 'a' is a mapping"),
    ],
)
def test_metadata_must_be_kubernetes_names_and_strings(meta: str, message: str) -> None:
    good = meta_doc("{name: good, labels: {a: b, empty: }, annotations: {n: '1'}}")
    objects, [problem] = parse(good + "---\n" + meta_doc(meta))
    assert names(objects) == ["good"]
    assert message in problem


def test_names_at_the_limits_are_kept() -> None:
    longest = ".".join(["a" * 63] * 3) + "." + "b" * 61
    assert len(longest) == 253
    text = meta_doc(f"{{name: {longest}, namespace: {'n' * 63}}}")
    text += "---\n" + meta_doc("{name: 'system:controller:x'}", kind="ClusterRoleBinding")
    objects, problems = parse(text)
    assert problems == [] and names(objects) == [longest, "system:controller:x"]


@pytest.mark.parametrize("name", ["..", "a/b", "a%2f", "x" * 254, "a\x01b"])
def test_rbac_names_are_path_segments(name: str) -> None:
    doc: dict[str, Any] = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role"}
    doc["metadata"] = {"name": name}
    objects, [problem] = parse(json.dumps(doc), "r.json")
    assert objects == [] and problem.startswith("metadata.name ")


def test_nul_and_lone_surrogates_in_json_strings_skip_the_document() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
    for value, message in (("a\x00b", "NUL"), ("\ud800", "surrogate")):
        text = json.dumps({**cm, "data": {"k": value}})
        objects, [problem] = parse(text, "x.json")
        assert objects == [] and message in problem
        objects, [problem] = parse(json.dumps({**cm, "data": {value: "v"}}), "x.json")
        assert objects == [] and message in problem
    # an escaped backslash before "u0000" is not an escape: nothing is flagged
    objects, problems = parse(json.dumps({**cm, "data": {"k": "\\u0000"}}), "x.json")
    assert problems == [] and objects[0]["data"] == {"k": "\\u0000"}


# -- YAML semantics -----------------------------------------------------------------------------


def test_duplicate_keys_are_reported_and_the_last_value_kept() -> None:
    text = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: first
  name: second
data:
  a: "1"
  b: "2"
  a: "3"
"""
    objects, diagnostics = parse_manifest("d.yaml", text.encode())
    assert [p.object["metadata"]["name"] for p in objects] == ["second"]
    assert objects[0].object["data"] == {"a": "3", "b": "2"}
    assert [(d.line, d.message) for d in diagnostics] == [
        (5, "duplicate key 'name'; the last value is kept"),
        (9, "duplicate key 'a'; the last value is kept"),
    ]


def test_duplicate_keys_in_json_are_reported() -> None:
    text = '{"apiVersion": "v1", "kind": "ConfigMap", "kind": "Secret",'
    text += ' "metadata": {"name": "x", "labels": {"a": "1", "a": "2"}}}'
    objects, problems = parse(text, "d.json")
    assert objects[0]["kind"] == "Secret" and objects[0]["metadata"]["labels"] == {"a": "2"}
    assert sorted(problems) == [
        "duplicate key 'a'; the last value is kept",
        "duplicate key 'kind'; the last value is kept",
    ]


def test_merge_keys_and_shared_anchors_work_without_duplicate_reports() -> None:
    text = """\
x-labels: &labels {app: web, tier: front}
x-defaults: &defaults {cpu: 100m, memory: 64Mi}
apiVersion: v1
kind: ConfigMap
metadata:
  name: merged
  labels:
    <<: *labels
    tier: back
data:
  <<: [*defaults, {cpu: 1, disk: 1Gi}]
  memory: 1Gi
"""
    objects, problems = parse(text)
    assert problems == []
    [obj] = objects
    assert obj["metadata"]["labels"] == {"app": "web", "tier": "back"}
    assert obj["data"] == {"cpu": "100m", "memory": "1Gi", "disk": "1Gi"}
    assert obj["x-labels"] == {"app": "web", "tier": "front"}


def test_scalars_resolve_as_yaml_1_1_but_timestamps_stay_strings() -> None:
    text = meta_doc("{name: x}") + (
        "data: {a: yes, b: Off, c: 0x1F, d: 1_000, e: 1.5, f: ~, g: 2024-01-02,"
        " h: '0x1F', i: !!str 12, j: !!int '12', k: =, l: <<, m: 1:30, n: .inf}\n"
    )
    [obj], problems = parse(text)
    assert problems == []
    assert obj["data"] == {
        "a": True,
        "b": False,
        "c": 31,
        "d": 1000,
        "e": 1.5,
        "f": None,
        "g": "2024-01-02",
        "h": "0x1F",
        "i": "12",
        "j": 12,
        "k": "=",
        "l": "<<",
        "m": 90,
        "n": float("inf"),
    }


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("data: !Ref x", "unsupported tag '!Ref'"),
        ("data: !!set {a}", "unsupported tag 'tag:yaml.org,2002:set'"),
        ("data: !!int abc", "'abc' is not a valid int"),
        ("data: *nowhere", "alias *nowhere is not defined"),
        ("data: &loop [a, *loop]", "alias *loop refers to a value that contains it"),
        ("data: {[a, b]: c}", "a mapping key is a list; keys are strings"),
        ("data: {? {a: b} : c}", "a mapping key is a mapping"),
        ("data: {<<: [a]}", "'<<' merges a string; it takes a mapping or a list of mappings"),
        (f"data: {'9' * 5000}", "is too long a number"),
    ],
)
def test_documents_yaml_cannot_express_as_json_are_skipped(bad: str, message: str) -> None:
    text = meta_doc("{name: bad}") + bad + "\n---\n" + meta_doc("{name: after}")
    objects, [problem] = parse(text)
    assert names(objects) == ["after"]
    assert message in problem and problem.endswith("; document skipped")


def test_a_syntax_error_ends_the_file_with_the_documents_before_it_kept() -> None:
    text = meta_doc("{name: a}") + "---\nkey: [unclosed\n---\n" + meta_doc("{name: c}")
    objects, diagnostics = parse_manifest("s.yaml", text.encode())
    assert [p.object["metadata"]["name"] for p in objects] == ["a"]
    [diagnostic] = diagnostics
    assert diagnostic.document == 2 and diagnostic.message.startswith("does not parse: ")


# -- encodings ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["bom.yaml", "bom.json"])
def test_a_utf8_byte_order_mark_is_accepted(name: str) -> None:
    doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bom"}}
    objects, problems = parse(codecs.BOM_UTF8 + json.dumps(doc).encode(), name)
    assert problems == [] and objects == [doc]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
@pytest.mark.parametrize("name", ["wide.yaml", "wide.json"])
def test_utf16_and_utf32_with_a_byte_order_mark_are_read(encoding: str, name: str) -> None:
    doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "wide"}}
    doc["data"] = {"greeting": "grüße"}
    objects, problems = parse(json.dumps(doc, ensure_ascii=False).encode(encoding), name)
    assert problems == [] and objects == [doc]


def test_invalid_utf8_is_reported_with_its_place(tmp_path: Path) -> None:
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: \xff\xfe}\n")
    write(tmp_path, "ok.json", '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "é"')
    objects, [binary, ok] = read_manifests(tmp_path)
    assert objects == []
    assert binary.path == str(path) and binary.line == 3
    assert binary.message == "is not valid UTF-8: byte 0xff at offset 48; not read"
    assert ok.message.startswith("does not parse")  # valid UTF-8, truncated JSON


# -- limits -------------------------------------------------------------------------------------


def test_limits_are_positive_integers() -> None:
    assert ManifestLimits().max_depth == 64
    with pytest.raises(ValueError, match="max_depth"):
        ManifestLimits(max_depth=0)
    with pytest.raises(ValueError, match="max_files"):
        ManifestLimits(max_files=1.5)  # type: ignore[arg-type]


def test_documents_past_the_per_file_limit_are_not_read() -> None:
    text = "".join(meta_doc(f"{{name: n{i}}}") + "---\n" for i in range(5))
    objects, [problem] = parse(text, max_documents_per_file=3)
    assert names(objects) == ["n0", "n1", "n2"]
    assert (
        problem == "more than 3 documents in one file (the limit); the rest of the file is not read"
    )


def test_nesting_is_bounded_in_yaml_and_json_alike() -> None:
    def nested(levels: int) -> dict[str, Any]:
        value: dict[str, Any] = {"leaf": 1}
        for _ in range(levels - 1):
            value = {"a": value}
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "d": value}

    # the object itself is level 1, ``d``'s mapping level 2
    for name in ("n.yaml", "n.json"):
        objects, problems = parse(json.dumps(nested(7)), name, max_depth=8)
        assert len(objects) == 1 and problems == []
        objects, [problem] = parse(json.dumps(nested(8)), name, max_depth=8)
        assert objects == [] and "nested deeper than 8 levels (the limit)" in problem


def test_nesting_through_aliases_counts_the_aliased_depth() -> None:
    text = "x: &deep [[[[1]]]]\n" + meta_doc("{name: x}") + "data: {a: [*deep]}\n"
    objects, problems = parse(text, max_depth=7)
    assert len(objects) == 1 and problems == []
    objects, [problem] = parse(text, max_depth=6)
    assert objects == [] and "nested deeper than 6 levels" in problem


def test_alias_expansion_is_bounded_per_document() -> None:
    text = "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    text += meta_doc("{name: x}") + "data: [*b, *b]\n"
    objects, problems = parse(text, max_document_nodes=500)
    assert len(objects) == 1 and problems == []
    assert objects[0]["data"][1][8] is objects[0]["a"]  # shared, not copied
    objects, [problem] = parse(text, max_document_nodes=200)
    assert objects == [] and "more than 200 values with its aliases expanded" in problem


def test_file_size_is_checked_before_parsing() -> None:
    text = meta_doc("{name: x}")
    objects, [problem] = parse(text, max_file_bytes=len(text) - 1)
    assert objects == [] and problem.startswith(f"is {len(text)} bytes, over the limit of")


def test_diagnostic_log_keeps_the_first_and_counts_the_rest() -> None:
    log = DiagnosticLog(3)
    log.add(Diagnostic("a", "one"))
    log.extend([Diagnostic("b", str(i)) for i in range(4)])
    log.add(Diagnostic("c", "late"))
    assert len(log) == 6
    kept = log.result("root")
    assert [d.message for d in kept[:3]] == ["one", "0", "1"]
    assert str(kept[3]) == "root: and 3 more problems not shown (at most 3 are kept per run)"
    assert DiagnosticLog(1).result("root") == []
    with pytest.raises(ValueError):
        DiagnosticLog(0)


def test_run_diagnostics_are_capped(tmp_path: Path) -> None:
    for i in range(4):
        write(tmp_path, f"f{i}.yaml", "".join(f"---\nnote: {j}\n" for j in range(50)))
    objects, diagnostics = read_manifests(tmp_path, ManifestLimits(max_diagnostics=10))
    assert objects == [] and len(diagnostics) == 11
    assert diagnostics[-1].message.startswith("and 190 more problems not shown")


def test_uploaded_files_are_parsed_like_files_on_disk_under_their_given_names() -> None:
    pod = b"apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\nspec: {}\n"
    inventory = load_files(
        [
            ManifestFile("<stdin>", pod),
            ManifestFile("dir/again.yaml", pod),
            ManifestFile("/etc/passwd", b"kind: [broken\n"),  # a label: never opened
        ]
    )
    assert [o["metadata"]["name"] for o in inventory.objects("Pod")] == ["web"]
    shown = sorted(str(d) for d in inventory.diagnostics)
    assert shown[0].startswith("/etc/passwd:2 (document 1): does not parse")
    assert shown[1].startswith("dir/again.yaml:1 (document 1): duplicate Pod shop/web")
    assert "(also at <stdin>:1" in shown[1]
