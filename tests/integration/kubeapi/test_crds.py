"""CustomResourceDefinitions: loading from YAML, creating through the API, serving the
custom resource (CRUD, status subresource, discovery) and removing it again."""

from __future__ import annotations

from pathlib import Path

import kubernetes.aio.client as aio
import pytest
import yaml

from tests.kubeapi import KubeApiDouble

from .typed import json_object, present, status_of

WIDGET_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, shortNames: [wd]}
  versions:
    - name: v1
      served: true
      storage: true
      subresources: {status: {}}
      schema:
        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
"""
REPO_ROOT = Path(__file__).resolve().parents[3]


def widget(name: str, size: int = 1) -> dict[str, object]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": {"size": size},
    }


async def test_crd_from_yaml_serves_the_custom_resource(
    tmp_path: Path, kube_api: KubeApiDouble, kube_aio_client: aio.ApiClient
) -> None:
    path = tmp_path / "widgets.yaml"
    path.write_text(WIDGET_CRD)
    [crd] = kube_api.load_crd(path)
    assert {c["type"] for c in crd["status"]["conditions"]} == {"NamesAccepted", "Established"}

    groups = await aio.ApisApi(kube_aio_client).get_api_versions()
    assert "example.com" in {g.name for g in groups.groups}
    custom = aio.CustomObjectsApi(kube_aio_client)
    resources = {r.name: r for r in (await custom.get_api_resources("example.com", "v1")).resources}
    assert resources["widgets"].kind == "Widget" and resources["widgets"].short_names == ["wd"]
    assert "widgets/status" in resources

    created = json_object(
        await custom.create_namespaced_custom_object(
            "example.com", "v1", "default", "widgets", {**widget("w1"), "status": {"ok": True}}
        )
    )
    assert created["metadata"]["generation"] == 1 and "status" not in created
    listed = json_object(
        await custom.list_namespaced_custom_object("example.com", "v1", "default", "widgets")
    )
    assert listed["kind"] == "WidgetList"
    assert [(i["kind"], i["metadata"]["name"]) for i in listed["items"]] == [("Widget", "w1")]

    status = json_object(
        await custom.patch_namespaced_custom_object_status(
            "example.com", "v1", "default", "widgets", "w1", {"status": {"ready": True}}
        )
    )
    assert status["status"] == {"ready": True} and status["metadata"]["generation"] == 1
    resized = json_object(
        await custom.patch_namespaced_custom_object(
            "example.com",
            "v1",
            "default",
            "widgets",
            "w1",
            {"spec": {"size": 3}, "status": {"ready": False}},
        )
    )
    assert resized["spec"] == {"size": 3} and resized["status"] == {"ready": True}
    assert resized["metadata"]["generation"] == 2

    # Custom resources have no strategic merge patch, exactly like on a real server.
    with pytest.raises(aio.ApiException) as unsupported:
        await custom.patch_namespaced_custom_object(
            "example.com",
            "v1",
            "default",
            "widgets",
            "w1",
            {"spec": {"size": 4}},
            _content_type="application/strategic-merge-patch+json",
        )
    assert unsupported.value.status == 415


async def test_crd_created_through_the_api_and_deleted_again(
    kube_api: KubeApiDouble, kube_aio_client: aio.ApiClient
) -> None:
    extensions = aio.ApiextensionsV1Api(kube_aio_client)
    custom = aio.CustomObjectsApi(kube_aio_client)
    crd = await extensions.create_custom_resource_definition(yaml.safe_load(WIDGET_CRD))
    established = {c.type: c.status for c in present(present(crd.status).conditions)}
    assert established["Established"] == "True"

    await custom.create_namespaced_custom_object(
        "example.com", "v1", "default", "widgets", widget("w1")
    )
    assert kube_api.get_object("example.com/v1", "Widget", "w1", "default") is not None

    await extensions.delete_custom_resource_definition("widgets.example.com")
    with pytest.raises(aio.ApiException) as error:
        await custom.list_namespaced_custom_object("example.com", "v1", "default", "widgets")
    assert error.value.status == 404
    with pytest.raises(KeyError):
        kube_api.get_object("example.com/v1", "Widget", "w1", "default")


async def test_malformed_crd_is_rejected(kube_aio_client: aio.ApiClient) -> None:
    crd = yaml.safe_load(WIDGET_CRD)
    crd["metadata"]["name"] = "gadgets.example.com"  # must be <plural>.<group>
    with pytest.raises(aio.ApiException) as error:
        await aio.ApiextensionsV1Api(kube_aio_client).create_custom_resource_definition(crd)
    assert error.value.status == 422
    assert "metadata.name" in status_of(error.value)["message"]


@pytest.mark.parametrize(
    "path",
    sorted(p for p in (REPO_ROOT / "deploy" / "crds").glob("*.yaml") if p.stem != "kustomization"),
    ids=lambda p: p.name,
)
async def test_project_crds_load(path: Path, kube_api: KubeApiDouble) -> None:
    for crd in kube_api.load_crd(path):
        spec = crd["spec"]
        served = [v["name"] for v in spec["versions"] if v.get("served")]
        for version in served:
            assert kube_api.registry.lookup(spec["group"], version, spec["names"]["plural"])
