"""The reference walker: every path from pod specs, ServiceAccounts, Ingresses and
StatefulSet claim templates to the ConfigMaps, Secrets, claims and ServiceAccounts they use."""

from __future__ import annotations

from typing import Any

from assay.server.checks.kit.references import (
    CLAIM,
    CONFIGMAP,
    SECRET,
    SERVICE_ACCOUNT,
    Reference,
    pod_references,
    used_names,
)
from assay.server.inventory import Inventory

POD_SPEC: dict[str, Any] = {
    "serviceAccountName": "runner",
    "imagePullSecrets": [{"name": "registry"}],
    "volumes": [
        {"name": "a", "configMap": {"name": "vol"}},
        {
            "name": "b",
            "projected": {
                "sources": [{"configMap": {"name": "projected"}}, {"secret": {"name": "p-sec"}}]
            },
        },
        {"name": "c", "secret": {"secretName": "certs", "optional": True}},
        {"name": "d", "persistentVolumeClaim": {"claimName": "data"}},
        {"name": "e", "csi": {"driver": "x", "nodePublishSecretRef": {"name": "csi-sec"}}},
    ],
    "initContainers": [{"name": "i", "envFrom": [{"configMapRef": {"name": "init-env-from"}}]}],
    "containers": [
        {
            "name": "c",
            "env": [
                {"name": "X", "valueFrom": {"configMapKeyRef": {"name": "key-ref", "key": "x"}}},
                {"name": "P", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
                {"name": "Y", "value": "plain"},
            ],
            "envFrom": [{"secretRef": {"name": "env-sec", "optional": True}}],
        }
    ],
}


def make(kind: str, name: str, namespace: str = "shop", **fields: Any) -> dict[str, Any]:
    return {"kind": kind, "metadata": {"name": name, "namespace": namespace}, **fields}


def test_every_reference_path_of_a_pod_spec() -> None:
    found = set(pod_references(POD_SPEC))
    assert found == {
        Reference(CONFIGMAP, "vol", "volume a"),
        Reference(CONFIGMAP, "projected", "volume b (projected)"),
        Reference(SECRET, "p-sec", "volume b (projected)"),
        Reference(SECRET, "certs", "volume c", optional=True),
        Reference(CLAIM, "data", "volume d"),
        Reference(SECRET, "csi-sec", "volume e (csi nodePublishSecretRef)"),
        Reference(CONFIGMAP, "init-env-from", "envFrom configMapRef", "i"),
        Reference(CONFIGMAP, "key-ref", "env X (configMapKeyRef)", "c"),
        Reference(SECRET, "db", "env P (secretKeyRef)", "c"),
        Reference(SECRET, "env-sec", "envFrom secretRef", "c", optional=True),
        Reference(SECRET, "registry", "imagePullSecrets", optional=True),
        Reference(SERVICE_ACCOUNT, "runner", "serviceAccountName"),
    }


def test_a_pod_without_service_account_uses_default() -> None:
    assert list(pod_references({})) == [Reference(SERVICE_ACCOUNT, "default", "serviceAccountName")]


def test_used_names_index_every_referrer_per_namespace() -> None:
    cronjob = make(
        "CronJob", "job", spec={"jobTemplate": {"spec": {"template": {"spec": POD_SPEC}}}}
    )
    pod = make("Pod", "p", "payments", spec={"volumes": [{"configMap": {"name": "pod-vol"}}]})
    account = make("ServiceAccount", "builder", secrets=[{"name": "sa-token"}])
    ingress = make("Ingress", "web", spec={"tls": [{"secretName": "web-tls"}]})
    statefulset = make(
        "StatefulSet",
        "db",
        spec={
            "volumeClaimTemplates": [{"metadata": {"name": "data"}}],
            "template": {"spec": {"containers": [{"name": "pg"}]}},
        },
    )
    inventory = Inventory.from_objects([cronjob, pod, account, ingress, statefulset])
    shop, payments = used_names(inventory, "shop"), used_names(inventory, "payments")
    for key in [
        (CONFIGMAP, "vol"),
        (CONFIGMAP, "key-ref"),
        (SECRET, "db"),
        (SECRET, "sa-token"),
        (SECRET, "web-tls"),
        (CLAIM, "data"),
        (CLAIM, "data-db-0"),
        (CLAIM, "data-db-12"),
        (SERVICE_ACCOUNT, "runner"),
    ]:
        assert key in shop, key
    assert (CLAIM, "data-db-x") not in shop
    assert (CONFIGMAP, "pod-vol") in payments and (CONFIGMAP, "vol") not in payments
    assert (CONFIGMAP, "vol") not in used_names(inventory, "nowhere")
