"""REL-015..REL-019 beyond their fixtures: the live parts of the Service checks over the
Kubernetes API test double, Services they leave out, autoscalers they still judge."""

from __future__ import annotations

from assay.server.core.types import Status
from tests.kubeapi import KubeApiDouble
from tests.unit.checks.cluster_state import (
    deployment,
    endpoint_slice,
    kubernetes_service_slice,
    pod,
    replica_set,
    service,
)
from tests.unit.checks.objects import Obj
from tests.unit.checks.runs import assert_skipped_offline, outcomes, run, run_live


async def test_rel017_service_with_one_ready_endpoint(kube_api: KubeApiDouble) -> None:
    objects = [
        kubernetes_service_slice(),
        service("cart", "shop", {"app": "cart"}),
        endpoint_slice("cart", "shop", {"cart-1": True, "cart-2": False}),
        service("web", "shop", {"app": "web"}),
        endpoint_slice("web", "shop", {"web-1": True, "web-2": True}),
        service("external-db", "shop", None),
    ]
    found = outcomes(await run_live(kube_api, "REL-017", objects))
    assert found == {
        "cart": (Status.FAILING, "exactly one ready endpoint (Pod/shop/cart-1)"),
        "web": (Status.PASSING, "2 ready endpoints"),
    }
    assert_skipped_offline("REL-017", objects)


async def test_rel017_is_skipped_when_the_cluster_serves_no_endpointslices(
    kube_api: KubeApiDouble,
) -> None:
    kube_api.disable_group("discovery.k8s.io")
    objects = [service("cart", "shop", {"app": "cart"})]
    found = outcomes(await run_live(kube_api, "REL-017", objects))
    assert found == {"": (Status.SKIPPED, "the cluster does not serve discovery.k8s.io/v1")}


def _web_backend(available: int) -> list[Obj]:
    return [
        deployment("web", "shop", replicas=2, available=available),
        replica_set("web-7c9d8", "shop", "web"),
        service("web", "shop", {"app": "web"}),
        pod("web-1", "shop", labels={"app": "web"}, owner=("ReplicaSet", "web-7c9d8"), ready=False),
    ]


async def test_rel015_live_part_needs_a_ready_endpoint(kube_api: KubeApiDouble) -> None:
    """The selector matches the Deployment (offline part passes) but its only endpoint is
    not ready: failing live, passing on the same objects as manifests."""
    objects = [
        *_web_backend(available=0),
        endpoint_slice("web", "shop", {"web-1": False}),
        kubernetes_service_slice(),
        service("typo", "shop", {"app": "wbe"}),
    ]
    found = outcomes(await run_live(kube_api, "REL-015", objects))
    assert found["web"] == (
        Status.FAILING,
        "selector 'app=web' matches Deployment/web but no endpoint is ready (1 endpoint, 0 ready)",
    )
    assert found["typo"][0] is Status.FAILING
    assert found["typo"][1].startswith("selector 'app=wbe' matches no pod or pod template")
    assert outcomes(run("REL-015", objects)) == {
        "typo": (
            Status.FAILING,
            "selector 'app=wbe' matches no pod or pod template in namespace shop",
        ),
        "web": (Status.PASSING, "selector 'app=web' matches Deployment/web"),
    }


async def test_rel015_live_part_is_not_judged_when_endpointslices_cannot_be_listed(
    kube_api: KubeApiDouble,
) -> None:
    kube_api.inject(method="GET", path_regex="/endpointslices$", status=403, times=None)
    found = outcomes(await run_live(kube_api, "REL-015", _web_backend(available=0)))
    assert found["web"] == (
        Status.PASSING,
        "selector 'app=web' matches Deployment/web (ready endpoints not judged: "
        "EndpointSlices (discovery.k8s.io/v1) could not be listed)",
    )


def test_service_checks_leave_out_services_without_selector_and_external_names() -> None:
    objects = [
        service("external-db", "shop", None),
        service(
            "payments", "shop", {"app": "payments"}, type="ExternalName", externalName="x.example"
        ),
    ]
    for check_id in ("REL-015", "REL-016"):
        [(status, message)] = outcomes(run(check_id, objects)).values()
        assert status is Status.SKIPPED and message.startswith("nothing to assess")


def test_rel019_judges_hpas_that_keda_owns() -> None:
    scaled_object = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "worker", "namespace": "jobs"},
        "spec": {"scaleTargetRef": {"name": "worker"}},
    }
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {
            "name": "keda-hpa-worker",
            "namespace": "jobs",
            "ownerReferences": [{"kind": "ScaledObject", "name": "worker", "controller": True}],
        },
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "worker"}
        },
    }
    found = outcomes(run("REL-019", [scaled_object, hpa]))
    assert found == {
        "keda-hpa-worker": (
            Status.FAILING,
            "target Deployment/worker does not exist in namespace jobs",
        )
    }
