"""REL-021 beyond its fixtures: kinds a live cluster would not list, Secrets other objects make."""

from __future__ import annotations

from assay.server.checks.kit.evaluate import evaluate
from assay.server.core.types import Status
from tests.kubeapi import KubeApiDouble
from tests.unit.checks.cluster_state import meta
from tests.unit.checks.objects import Obj
from tests.unit.checks.runs import REGISTRY, live_inventory, outcomes, run


def _app_with_secret() -> list[Obj]:
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta("billing", "billing"),
            "spec": {
                "selector": {"matchLabels": {"app": "billing"}},
                "template": {
                    "metadata": {"labels": {"app": "billing"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "api",
                                "image": "registry.example.com/billing:2",
                                "envFrom": [
                                    {"secretRef": {"name": "billing-db"}},
                                    {"configMapRef": {"name": "billing-config"}},
                                ],
                            }
                        ]
                    },
                },
            },
        }
    ]


async def test_rel021_does_not_call_secrets_missing_when_they_cannot_be_listed(
    kube_api: KubeApiDouble,
) -> None:
    kube_api.inject(method="GET", path_regex="/secrets$", status=403, times=None)
    check = REGISTRY.get("REL-021")
    inventory = await live_inventory(kube_api, _app_with_secret(), checks=[check])
    [finding] = evaluate(check, inventory)
    assert (finding.status, finding.message) == (
        Status.FAILING,
        "api: envFrom configMapRef refers to missing ConfigMap billing-config",
    )


def test_rel021_secrets_made_by_external_secrets_and_certificates_count_as_present() -> None:
    makers = [
        {
            "apiVersion": "external-secrets.io/v1beta1",
            "kind": "ExternalSecret",
            "metadata": {"name": "billing-db-sync", "namespace": "billing"},
            "spec": {"target": {"name": "billing-db"}, "secretStoreRef": {"name": "vault"}},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "billing-config", "namespace": "billing"},
        },
    ]
    found = outcomes(run("REL-021", [*_app_with_secret(), *makers]))
    assert found == {"billing": (Status.PASSING, "3 references resolve")}
    # an object of the same kind from another API group creates nothing
    makers[0]["apiVersion"] = "example.com/v1"
    assert outcomes(run("REL-021", [*_app_with_secret(), *makers]))["billing"][0] is Status.FAILING
