"""Uploaded manifests parsed from bytes: YAML and JSON, lists, duplicates, bad files."""

from __future__ import annotations

import json

from assay.server.inventory.uploads import ManifestFile, load_uploaded, read_uploaded

POD = b"apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\nspec: {}\n"


def test_documents_lists_and_json_become_objects_in_order() -> None:
    listed = json.dumps(
        {
            "apiVersion": "v1",
            "kind": "List",
            "items": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}],
        }
    ).encode()
    objects, diagnostics = read_uploaded(
        [
            ManifestFile("a.yaml", POD + b"---\n---\n" + POD.replace(b"web", b"api")),
            ManifestFile("b.JSON", listed),
        ]
    )
    assert [o["metadata"]["name"] for o in objects] == ["web", "api", "c"]
    assert diagnostics == []


def test_problems_are_diagnostics_under_the_files_name() -> None:
    objects, diagnostics = read_uploaded(
        [
            ManifestFile("dir/a.yaml", POD),
            ManifestFile("dir/b.yaml", POD + b"---\nkind: [broken\n"),
            ManifestFile("c.yaml", b"- just\n- a list\n"),
            ManifestFile("d.yaml", b"apiVersion: v1\nkind: Pod\nmetadata: {}\n"),
        ]
    )
    assert len(objects) == 2
    shown = [str(d) for d in diagnostics]
    assert shown[0].startswith("dir/b.yaml (document 2): does not parse: while parsing")
    assert shown[1:] == [
        "c.yaml (document 1): not a mapping but list",
        "d.yaml (document 1): missing metadata.name",
        "dir/b.yaml (document 1): duplicate Pod shop/web (also in dir/a.yaml); "
        "this later definition is kept",
    ]


def test_an_inventory_of_uploaded_files() -> None:
    inventory = load_uploaded([ManifestFile("<stdin>", POD)])
    assert [o["metadata"]["name"] for o in inventory.objects("Pod")] == ["web"]
