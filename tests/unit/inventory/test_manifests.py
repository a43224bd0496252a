"""Loading manifests: files and trees, multi-document YAML, Lists, JSON, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assay.server.core.types import Source
from assay.server.inventory import (
    InventoryError,
    ManifestPathNotFound,
    load_manifests,
    read_manifests,
)
from assay.server.inventory.errors import InventoryError as ErrorsModuleBase

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: shop\n"


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


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
        "b/a.json",
        json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "from-b-a"}}),
    )
    write(tmp_path, "README.md", "not a manifest")
    write(tmp_path, ".git/config.yaml", CONFIGMAP.format(name="hidden"))
    objects, diagnostics = read_manifests(tmp_path)
    assert [o["metadata"]["name"] for o in objects] == ["from-a", "from-b-a", "from-b-z"]
    assert diagnostics == []


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
    names = [o["metadata"]["name"] for o in inventory.objects("ConfigMap")]
    assert names == ["before-error", "good", "later"]
    bad_yaml, bad_json = inventory.diagnostics
    assert bad_yaml.path.endswith("2-bad.yaml") and bad_yaml.document == 2
    assert "does not parse" in bad_yaml.message
    assert bad_json.path.endswith("3-bad.json") and bad_json.document == 1
    assert str(bad_yaml).startswith(f"{bad_yaml.path} (document 2): does not parse")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("- just\n- a list\n", "not a mapping but list"),
        ("plain string\n", "not a mapping but str"),
        ("kind: ConfigMap\nmetadata: {name: x}\n", "missing apiVersion"),
        ("apiVersion: v1\nmetadata: {name: x}\n", "missing kind"),
        ("apiVersion: v1\nkind: ConfigMap\n", "missing metadata"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: x-}\n", "metadata.name"),
    ],
)
def test_unusable_documents_become_diagnostics(tmp_path: Path, document: str, message: str) -> None:
    path = write(tmp_path, "x.yaml", CONFIGMAP.format(name="ok") + "---\n" + document)
    objects, diagnostics = read_manifests(path)
    assert len(objects) == 1
    [diagnostic] = diagnostics
    assert diagnostic.document == 2 and message in diagnostic.message


def test_invalid_list_item_names_its_index(tmp_path: Path) -> None:
    text = "apiVersion: v1\nkind: List\nitems:\n  - {kind: ConfigMap}\n"
    _, [diagnostic] = read_manifests(write(tmp_path, "l.yaml", text))
    assert (diagnostic.document, diagnostic.item) == (1, 0)
    assert "(document 1, item 0)" in str(diagnostic)


def test_namespaced_objects_without_namespace_go_to_default(tmp_path: Path) -> None:
    text = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader}
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
metadata: {name: g}
"""
    inventory = load_manifests(write(tmp_path, "m.yaml", text))
    deployment = inventory.get("Deployment", "default", "web")
    assert deployment is not None and deployment["metadata"]["namespace"] == "default"
    assert inventory.get("ClusterRole", "", "reader") is not None
    assert inventory.get("Widget", "", "w") is not None
    assert inventory.get("Gadget", "default", "g") is not None


def test_duplicates_keep_the_later_object_with_a_diagnostic(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", CONFIGMAP.format(name="dup") + "data: {v: '1'}\n")
    write(tmp_path, "b.yaml", CONFIGMAP.format(name="dup") + "data: {v: '2'}\n")
    inventory = load_manifests(tmp_path)
    assert inventory.get("ConfigMap", "shop", "dup") == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "dup", "namespace": "shop"},
        "data": {"v": "2"},
    }
    [diagnostic] = inventory.diagnostics
    assert "duplicate ConfigMap shop/dup" in diagnostic.message


def test_nonexistent_path_raises_inventory_error(tmp_path: Path) -> None:
    with pytest.raises(ManifestPathNotFound, match="does not exist") as caught:
        load_manifests(tmp_path / "nope")
    assert isinstance(caught.value, InventoryError)
    assert InventoryError is ErrorsModuleBase


def test_a_single_file_is_read_whatever_its_suffix(tmp_path: Path) -> None:
    path = write(tmp_path, "manifest.txt", CONFIGMAP.format(name="x"))
    assert len(load_manifests(path)) == 1


def test_undecodable_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    objects, [diagnostic] = read_manifests(tmp_path)
    assert objects == [] and "cannot read" in diagnostic.message
