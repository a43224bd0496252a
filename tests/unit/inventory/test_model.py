"""The inventory's lookups and its indexes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from assay.server.core.types import Source
from assay.server.inventory import Diagnostic, Inventory, Selector
from assay.server.inventory import selectors as selectors_module


def make(kind: str, name: str, namespace: str | None = "shop", **fields: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, **fields.pop("metadata", {})}
    if namespace is not None:
        metadata["namespace"] = namespace
    return {"apiVersion": "v1", "kind": kind, "metadata": metadata, **fields}


def deployment(name: str, labels: dict[str, str], namespace: str = "shop", **spec: Any) -> Any:
    template = {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "app"}]}}
    return make("Deployment", name, namespace, spec={"template": template, **spec})


def owned(kind: str, name: str, owner_kind: str, owner: str, **fields: Any) -> dict[str, Any]:
    ref = {"kind": owner_kind, "name": owner, "controller": True}
    return make(kind, name, metadata={"ownerReferences": [ref]}, **fields)


def test_lookups_sorted_and_scoped() -> None:
    inventory = Inventory.from_objects(
        [
            make("ConfigMap", "b"),
            make("ConfigMap", "a", "payments"),
            make("ConfigMap", "a"),
            make("Namespace", "monitoring", None),
            make("Node", "node-1", "ignored-for-cluster-scoped"),
        ],
        source=Source.LIVE,
        missing_groups={"metrics.k8s.io"},
        diagnostics=[Diagnostic("/api/v1/secrets", "HTTP 403")],
    )
    names = [
        (o["metadata"]["namespace"], o["metadata"]["name"]) for o in inventory.objects("ConfigMap")
    ]
    assert names == [("payments", "a"), ("shop", "a"), ("shop", "b")]
    assert [o["metadata"]["name"] for o in inventory.objects("ConfigMap", "shop")] == ["a", "b"]
    assert inventory.objects("Secret") == () and inventory.objects("ConfigMap", "nope") == ()
    assert inventory.get("Node", "", "node-1") is not None
    assert inventory.get("ConfigMap", "shop", "zzz") is None
    assert inventory.namespaces() == ("monitoring", "payments", "shop")
    assert inventory.namespaces_of("ConfigMap") == ("payments", "shop")
    assert inventory.namespaces_of("Node") == ("",)
    assert inventory.kinds() == ("ConfigMap", "Namespace", "Node")
    assert len(inventory) == 5
    assert inventory.source is Source.LIVE
    assert not inventory.has_api("metrics.k8s.io") and not inventory.has_api("metrics.k8s.io/v1")
    assert inventory.has_api("autoscaling/v2")
    assert [str(d) for d in inventory.diagnostics] == ["/api/v1/secrets: HTTP 403"]


def test_objects_without_kind_or_name_are_ignored() -> None:
    inventory = Inventory.from_objects([{"kind": "ConfigMap", "metadata": {}}, {"metadata": {}}])
    assert len(inventory) == 0


def test_live_owned_objects_are_reported_through_their_controller() -> None:
    objects = [
        deployment("web", {"app": "web"}),
        owned("ReplicaSet", "web-5d8f", "Deployment", "web", spec={"template": {}}),
        owned("Pod", "web-5d8f-abc", "ReplicaSet", "web-5d8f", spec={}),
        owned("Pod", "orphan-xyz", "ReplicaSet", "deleted-rs", spec={}),
        make("Pod", "naked", spec={}),
        owned("Job", "nightly-123", "CronJob", "nightly", spec={}),
        make("CronJob", "nightly", spec={}),
    ]
    inventory = Inventory.from_objects(objects, source=Source.LIVE)
    top = [(w.kind, w.name) for w in inventory.workloads()]
    assert top == [
        ("Pod", "naked"),
        ("Pod", "orphan-xyz"),
        ("Deployment", "web"),
        ("CronJob", "nightly"),
    ]
    assert len(inventory.workloads(include_owned=True)) == len(objects)
    assert [w.name for w in inventory.workloads("other")] == []
    workload = inventory.workload("Deployment", "shop", "web")
    assert workload is not None and workload.labels == {"app": "web"}
    assert inventory.workload("Deployment", "shop", "nope") is None


def test_pods_and_templates_selected() -> None:
    inventory = Inventory.from_objects(
        [
            deployment("web", {"app": "web", "tier": "fe"}),
            deployment("api", {"app": "api", "tier": "be"}),
            deployment("web", {"app": "web"}, namespace="payments"),
            make("Pod", "web-1", metadata={"labels": {"app": "web"}}, spec={}),
        ]
    )
    selector = Selector.from_map({"app": "web"})
    selected = inventory.workloads_selected("shop", selector)
    assert [(w.kind, w.namespace, w.name) for w in selected] == [
        ("Pod", "shop", "web-1"),  # a naked pod is a workload of its own
        ("Deployment", "shop", "web"),
    ]
    tiers = Selector.from_label_selector(
        {"matchExpressions": [{"key": "tier", "operator": "Exists"}]}
    )
    assert sorted(w.name for w in inventory.workloads_selected("shop", tiers)) == ["api", "web"]
    assert [p["metadata"]["name"] for p in inventory.pods_selected("shop", selector)] == ["web-1"]


def test_reverse_selector_lookups() -> None:
    pdb = make("PodDisruptionBudget", "web", spec={"selector": {"matchLabels": {"app": "web"}}})
    pdb_elsewhere = make(
        "PodDisruptionBudget", "web", "payments", spec={"selector": {"matchLabels": {"app": "web"}}}
    )
    deny_all = make("NetworkPolicy", "deny-all", spec={"podSelector": {}})
    service = make("Service", "web", spec={"selector": {"app": "web"}})
    headless = make("Service", "external", spec={})
    inventory = Inventory.from_objects([pdb, pdb_elsewhere, deny_all, service, headless])
    labels = {"app": "web", "pod-template-hash": "abc"}
    assert inventory.pdbs_selecting("shop", labels) == [pdb]
    assert inventory.selecting("NetworkPolicy", "shop", {"anything": "x"}) == [deny_all]
    assert inventory.selecting("Service", "shop", labels) == [service]
    with pytest.raises(ValueError, match="does not select pods"):
        inventory.selecting("ConfigMap", "shop", labels)


def test_reverse_lookup_uses_the_index_not_a_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    pdbs = [
        make(
            "PodDisruptionBudget", f"pdb-{i}", spec={"selector": {"matchLabels": {"app": f"a{i}"}}}
        )
        for i in range(2000)
    ]
    inventory = Inventory.from_objects(pdbs)
    inventory.pdbs_selecting("shop", {"app": "warm-up"})  # builds the index
    calls = 0
    original = selectors_module.Selector.matches

    def counting(self: Selector, labels: Any) -> bool:
        nonlocal calls
        calls += 1
        return original(self, labels)

    monkeypatch.setattr(selectors_module.Selector, "matches", counting)
    found = inventory.pdbs_selecting("shop", {"app": "a1234", "team": "x"})
    assert [p["metadata"]["name"] for p in found] == ["pdb-1234"]
    assert calls == 1


def test_scalers_targeting() -> None:
    hpa = make(
        "HorizontalPodAutoscaler",
        "web",
        spec={"scaleTargetRef": {"kind": "Deployment", "name": "web"}},
    )
    keda = make("ScaledObject", "worker", spec={"scaleTargetRef": {"name": "worker"}})
    inventory = Inventory.from_objects([hpa, keda])
    assert inventory.scalers_targeting("Deployment", "shop", "web") == [hpa]
    assert inventory.scalers_targeting("Deployment", "shop", "worker") == [keda]
    assert inventory.scalers_targeting("StatefulSet", "shop", "web") == []


def test_derived_indexes_are_built_once_under_concurrency() -> None:
    inventory = Inventory.from_objects([deployment(f"d{i}", {"app": f"d{i}"}) for i in range(200)])
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: inventory.workloads(), range(32)))
    assert all(r is results[0] for r in results)


def test_a_network_policy_without_pod_selector_selects_every_pod() -> None:
    policy = make("NetworkPolicy", "deny", spec={"policyTypes": ["Ingress"]})
    inventory = Inventory.from_objects([policy])
    assert inventory.selecting("NetworkPolicy", "shop", {"app": "web"}) == [policy]
    assert inventory.selecting("NetworkPolicy", "shop", {}) == [policy]


def test_per_object_decides_once_for_every_object_and_recognises_strangers() -> None:
    pods = [make("Pod", f"p{i}", labels={"n": str(i)}) for i in range(3)]
    inventory = Inventory.from_objects(pods)
    asked: list[str] = []

    def decide(obj: Any) -> bool:
        name = str(obj["metadata"]["name"])
        asked.append(name)
        return name == "p1"

    stored = inventory.objects("Pod")
    assert [inventory.per_object("test:p1", decide, p) for p in stored] == [False, True, False]
    assert [inventory.per_object("test:p1", decide, p) for p in stored] == [False, True, False]
    assert sorted(asked) == ["p0", "p1", "p2"], "each object decided once, all at the first ask"
    stranger = make("Pod", "p1")  # an equal object that is not the inventory's own
    assert inventory.per_object("test:p1", decide, stranger) is True
    assert asked[-1] == "p1"


def test_workload_views_are_shared_and_carry_their_containers() -> None:
    inventory = Inventory.from_objects([deployment("web", {"app": "web"})])
    view = inventory.workload("Deployment", "shop", "web")
    assert view is not None
    assert view is inventory.workload("Deployment", "shop", "web")
    assert view in inventory.workloads()
    assert [c.name for c in view.containers()] == ["app"]
    assert (view.ref.kind, view.ref.namespace, view.ref.name) == ("Deployment", "shop", "web")
    assert inventory.workload("Deployment", "shop", "missing") is None
