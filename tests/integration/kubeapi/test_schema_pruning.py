"""Pruning and the structural-schema extensions: unknown fields dropped (and reported per
fieldValidation), x-kubernetes-preserve-unknown-fields, int-or-string, embedded
resources, nullable and defaults; CRDs whose schema is not structural are refused."""

from __future__ import annotations

import copy
from typing import Any

import aiohttp
import kubernetes.aio.client as aio
import pytest

from tests.kubeapi import KubeApiDouble

from .typed import as_body, json_object, status_of

GROUP, VERSION, PLURAL = "example.com", "v1", "gadgets"
STRING = {"type": "string"}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "size": {"type": "integer", "default": 1},
                "port": {"x-kubernetes-int-or-string": True},
                "note": {"type": "string", "nullable": True},
                "mode": {"type": "string", "default": "fast"},
                "extra": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": True,
                    "properties": {"known": {"type": "object", "properties": {"a": STRING}}},
                },
                "labels": {"type": "object", "additionalProperties": STRING},
                "template": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "properties": {"data": {"type": "object", "additionalProperties": STRING}},
                },
            },
        },
        "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
    },
}


def gadget_crd(schema: dict[str, Any] = SCHEMA) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"kind": "Gadget", "plural": PLURAL, "singular": "gadget"},
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": copy.deepcopy(schema)},
                }
            ],
        },
    }


def gadget(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Gadget",
        "metadata": {"name": name},
        "spec": spec,
    }


@pytest.fixture
def custom(kube_api: KubeApiDouble, kube_aio_client: aio.ApiClient) -> aio.CustomObjectsApi:
    kube_api.register_crd(gadget_crd())
    return aio.CustomObjectsApi(kube_aio_client)


async def create(custom: aio.CustomObjectsApi, body: dict[str, Any]) -> dict[str, Any]:
    created = json_object(
        await custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, body)
    )
    return created


async def test_unknown_fields_are_pruned_and_preserved_where_the_schema_says(
    custom: aio.CustomObjectsApi,
) -> None:
    body = gadget(
        "g",
        size=3,
        bogus={"deep": True},
        extra={"anything": [1, {"x": None}], "known": {"a": "kept", "b": "pruned"}},
        labels={"free": "form"},
    )
    body["metadata"]["bogusMeta"] = "dropped"
    body["topLevel"] = "dropped"
    created = await create(custom, body)
    assert created["spec"] == {
        "size": 3,
        "mode": "fast",
        "extra": {"anything": [1, {"x": None}], "known": {"a": "kept"}},
        "labels": {"free": "form"},
    }
    assert "topLevel" not in created and "bogusMeta" not in created["metadata"]


async def test_int_or_string_nullable_and_defaults(custom: aio.CustomObjectsApi) -> None:
    numeric = await create(custom, gadget("a", port=8080, note=None, size=None))
    assert numeric["spec"] == {"port": 8080, "note": None, "size": 1, "mode": "fast"}
    named = await create(custom, gadget("b", port="http", mode=None))
    assert named["spec"] == {"port": "http", "size": 1, "mode": "fast"}

    with pytest.raises(aio.ApiException) as error:
        await create(custom, gadget("c", port=True))
    [cause] = status_of(error.value)["details"]["causes"]
    assert cause == {
        "reason": "FieldValueTypeInvalid",
        "message": 'Invalid value: "boolean": spec.port in body must be of type integer,string: '
        '"boolean"',
        "field": "spec.port",
    }


async def test_embedded_resources_keep_their_type_and_metadata(
    custom: aio.CustomObjectsApi,
) -> None:
    template = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "inner", "labels": {"a": "b"}, "junk": 1},
        "data": {"k": "v"},
        "unknown": "pruned",
    }
    created = await create(custom, gadget("g", template=template))
    assert created["spec"]["template"] == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "inner", "labels": {"a": "b"}},
        "data": {"k": "v"},
    }
    with pytest.raises(aio.ApiException) as error:
        await create(custom, gadget("h", template={"data": {"k": "v"}}))
    causes = {c["field"]: c["message"] for c in status_of(error.value)["details"]["causes"]}
    assert causes == {
        "spec.template.kind": "Required value: must not be empty",
        "spec.template.apiVersion": "Required value: must not be empty",
    }


@pytest.mark.parametrize(
    ("mode", "status", "warnings"),
    [
        (None, 201, ['299 - "unknown field \\"spec.bogus\\""']),
        ("Warn", 201, ['299 - "unknown field \\"spec.bogus\\""']),
        ("Ignore", 201, []),
        ("Strict", 400, []),
    ],
)
async def test_field_validation_reports_pruned_fields(
    kube_api: KubeApiDouble, mode: str | None, status: int, warnings: list[str]
) -> None:
    kube_api.register_crd(gadget_crd())
    url = f"{kube_api.url}/apis/{GROUP}/{VERSION}/namespaces/default/{PLURAL}"
    params = {"fieldValidation": mode} if mode else {}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, params=params, json=gadget("g", size=2, bogus=1)) as response,
    ):
        assert response.status == status
        assert response.headers.getall("Warning", []) == warnings
        body = await response.json()
    if status == 400:
        assert body["reason"] == "BadRequest"
        assert body["message"] == (
            'Gadget in version "v1" cannot be handled as a Gadget: strict decoding error: '
            'unknown field "spec.bogus"'
        )
        assert kube_api.get_object(f"{GROUP}/{VERSION}", "Gadget", "g", "default") is None
    else:
        assert body["spec"] == {"size": 2, "mode": "fast"}


async def test_status_is_pruned_and_typed(custom: aio.CustomObjectsApi) -> None:
    await create(custom, gadget("g"))
    written = json_object(
        await custom.patch_namespaced_custom_object_status(
            GROUP, VERSION, "default", PLURAL, "g", {"status": {"ready": True, "other": 1}}
        )
    )
    assert written["status"] == {"ready": True}
    with pytest.raises(aio.ApiException) as error:
        await custom.patch_namespaced_custom_object_status(
            GROUP, VERSION, "default", PLURAL, "g", {"status": {"ready": "yes"}}
        )
    assert error.value.status == 422


@pytest.mark.parametrize(
    ("schema", "field", "message"),
    [
        (
            {"type": "object", "properties": {"spec": {"properties": {}}}},
            "spec.versions[0].schema.openAPIV3Schema.properties[spec].type",
            "Required value: must not be empty for specified object fields",
        ),
        (
            {"type": "object", "properties": {"spec": {"type": "string", "pattern": "(unclosed"}}},
            "spec.versions[0].schema.openAPIV3Schema.properties[spec].pattern",
            'Invalid value: "(unclosed": must be a valid regular expression, but isn\'t: '
            "missing ), unterminated subpattern at position 0",
        ),
        (
            {"x-kubernetes-preserve-unknown-fields": True},
            "spec.versions[0].schema.openAPIV3Schema.type",
            "Required value: must be object at the root",
        ),
    ],
)
async def test_crds_without_a_structural_schema_are_refused(
    kube_aio_client: aio.ApiClient, schema: dict[str, Any], field: str, message: str
) -> None:
    extensions = aio.ApiextensionsV1Api(kube_aio_client)
    with pytest.raises(aio.ApiException) as error:
        await extensions.create_custom_resource_definition(
            as_body(gadget_crd(schema), aio.V1CustomResourceDefinition)
        )
    assert error.value.status == 422
    causes = {c["field"]: c["message"] for c in status_of(error.value)["details"]["causes"]}
    assert causes == {field: message}

    missing = gadget_crd()
    del missing["spec"]["versions"][0]["schema"]
    with pytest.raises(aio.ApiException) as error:
        await extensions.create_custom_resource_definition(
            as_body(missing, aio.V1CustomResourceDefinition)
        )
    [cause] = status_of(error.value)["details"]["causes"]
    assert cause["field"] == "spec.versions[0].schema.openAPIV3Schema"
    assert cause["message"] == "Required value: schemas are required"


async def test_tekton_pipeline_runs_are_pruned_and_validated(
    kube_api: KubeApiDouble, kube_aio_client: aio.ApiClient
) -> None:
    kube_api.register_tekton()
    custom = aio.CustomObjectsApi(kube_aio_client)
    run: dict[str, Any] = {
        "apiVersion": "tekton.dev/v1",
        "kind": "PipelineRun",
        "metadata": {"name": "pr"},
        "spec": {
            "pipelineRef": {"resolver": "bundles", "params": [{"name": "b", "value": "x"}]},
            "pipelineSpec": {"tasks": [{"name": "t", "anything": {"goes": 1}}]},
            "timeouts": {"pipeline": "1h"},
            "serviceAccount": "removed-in-v1",
        },
    }
    created = json_object(
        await custom.create_namespaced_custom_object(
            "tekton.dev", "v1", "default", "pipelineruns", run
        )
    )
    assert "serviceAccount" not in created["spec"]
    assert created["spec"]["pipelineSpec"] == run["spec"]["pipelineSpec"]

    with pytest.raises(aio.ApiException) as error:
        await custom.patch_namespaced_custom_object_status(
            "tekton.dev",
            "v1",
            "default",
            "pipelineruns",
            "pr",
            {"status": {"conditions": [{"type": "Succeeded"}], "startTime": "now"}},
        )
    causes = {c["field"] for c in status_of(error.value)["details"]["causes"]}
    assert causes == {"status.conditions[0].status", "status.startTime"}


async def test_unknown_field_validation_mode_is_a_bad_request(kube_api: KubeApiDouble) -> None:
    kube_api.register_crd(gadget_crd())
    url = f"{kube_api.url}/apis/{GROUP}/{VERSION}/namespaces/default/{PLURAL}"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, params={"fieldValidation": "Loose"}, json=gadget("g")) as response,
    ):
        assert response.status == 400
        assert (await response.json())["message"] == (
            'fieldValidation: Unsupported value: "Loose": supported values: "Ignore", "Strict", '
            '"Warn"'
        )
