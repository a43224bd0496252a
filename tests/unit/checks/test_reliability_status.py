"""REL-023..REL-027 (live status) over live inventories served by the Kubernetes API test
double, the same objects as manifests (skipped), and their policy parameters."""

from __future__ import annotations

from assay.server.checks.kit.evaluate import evaluate
from assay.server.checks.kit.params import build_params
from assay.server.checks.reliability.health import PodHealthParams
from assay.server.checks.reliability.nodes import FailureDomainParams
from assay.server.checks.reliability.texts import one_line
from assay.server.core.types import Severity, Source, Status
from tests.kubeapi import KubeApiDouble
from tests.unit.checks.cluster_state import (
    ago,
    claim,
    crash_looping,
    node,
    pod,
    pulling,
    running,
    warning,
)
from tests.unit.checks.objects import Obj
from tests.unit.checks.runs import (
    REGISTRY,
    assert_skipped_offline,
    catalogue,
    fixture_objects,
    live_inventory,
    outcomes,
    run,
    run_live,
    statuses,
)


async def test_rel023_pod_health_from_live_pod_status(kube_api: KubeApiDouble) -> None:
    objects = [
        node("worker-a1"),
        pod("web-ok", "shop"),
        pod("api-crash", "shop", containers=[crash_looping("api", 14)], ready=False),
        pod("img-pull", "shop", containers=[pulling("worker")], ready=False, phase="Pending"),
        pod(
            "evicted",
            "shop",
            phase="Failed",
            containers=[],
            reason="Evicted",
            message="The node was low on resource: memory.",
        ),
        pod(
            "oom-loop",
            "shop",
            containers=[
                running(
                    "api",
                    restarts=8,
                    last_exit={"exitCode": 137, "reason": "OOMKilled", "finishedAt": ago(hours=3)},
                )
            ],
        ),
    ]
    findings = await run_live(kube_api, "REL-023", objects)
    found = outcomes(findings)
    assert statuses(findings) == {
        "web-ok": Status.PASSING,
        "api-crash": Status.FAILING,
        "img-pull": Status.FAILING,
        "evicted": Status.FAILING,
        "oom-loop": Status.FAILING,
    }
    assert found["api-crash"][1].startswith(
        "container api CrashLoopBackOff (restarted 14 times; last exit Error, code 1)"
    )
    assert "ImagePullBackOff" in found["img-pull"][1]
    assert found["evicted"][1] == "phase Failed (Evicted: The node was low on resource: memory.)"
    assert found["oom-loop"][1] == (
        "container api restarted 8 times (last exit OOMKilled, code 137, 3h00m ago)"
    )
    assert_skipped_offline("REL-023", objects)


async def test_rel023_ages_are_measured_from_the_newest_heartbeat(kube_api: KubeApiDouble) -> None:
    """A pod not ready for 4 minutes passes and one not ready for 20 fails, by the node's
    heartbeat (NOW), not by the wall clock: the timestamps are a year in the past."""
    fresh = pod("fresh", "shop", ready=False)
    fresh["status"]["conditions"][1]["lastTransitionTime"] = ago(minutes=4)
    stale = pod("stale", "shop", ready=False)
    stale["status"]["conditions"][1]["lastTransitionTime"] = ago(minutes=20)
    found = outcomes(await run_live(kube_api, "REL-023", [node("worker-a1"), fresh, stale]))
    assert found["fresh"] == (
        Status.PASSING,
        "phase Running, not ready for 4m, within the grace period",
    )
    assert found["stale"][0] is Status.FAILING
    assert found["stale"][1].startswith("not ready for 20m")


def _restarted(name: str, restarts: int, hours_ago: float) -> Obj:
    last = {"exitCode": 137, "reason": "OOMKilled", "finishedAt": ago(hours=hours_ago)}
    return pod(name, "shop", containers=[running("api", restarts=restarts, last_exit=last)])


def test_rel023_restart_threshold_and_window_come_from_the_policy() -> None:
    objects = [node("worker-a1"), _restarted("recent", 8, 2), _restarted("old", 40, 72)]
    by_default = outcomes(run("REL-023", objects, source=Source.LIVE))
    assert by_default["recent"][0] is Status.FAILING
    assert by_default["old"][0] is Status.PASSING  # last restart outside the 24h window

    policy = catalogue(
        """
        checks:
          REL-023:
            params: {restart_threshold: 10, restart_window_hours: 0}
        """
    )
    params = policy.params(REGISTRY.get("REL-023"))
    assert params == PodHealthParams(restart_threshold=10, restart_window_hours=0)
    tuned = outcomes(
        run("REL-023", [node("worker-a1"), *objects[1:]], params=params, source=Source.LIVE)
    )
    assert tuned["recent"][0] is Status.PASSING
    assert tuned["old"] == (
        Status.FAILING,
        "container api restarted 40 times (last exit OOMKilled, code 137, 3d00h ago)",
    )


def test_rel023_grace_minutes_decides_when_not_ready_fails() -> None:
    slow = pod("slow", "shop", ready=False)
    slow["status"]["conditions"][1]["lastTransitionTime"] = ago(minutes=20)
    objects = [node("worker-a1"), slow]
    assert outcomes(run("REL-023", objects, source=Source.LIVE))["slow"][0] is Status.FAILING
    lenient = build_params(PodHealthParams, {"grace_minutes": 30})
    assert outcomes(run("REL-023", objects, params=lenient, source=Source.LIVE))["slow"] == (
        Status.PASSING,
        "phase Running, not ready for 20m, within the grace period",
    )


def test_rel023_without_timestamps_judges_only_what_needs_no_age() -> None:
    waiting = pod("waiting", "shop", ready=False, phase="Pending")
    waiting["metadata"].pop("creationTimestamp")
    waiting["status"] = {
        "phase": "Pending",
        "containerStatuses": [
            {
                "name": "app",
                "restartCount": 0,
                "state": {"waiting": {"reason": "ContainerCreating"}},
            }
        ],
    }
    crashing = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "crashing", "namespace": "shop"},
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "app",
                    "restartCount": 3,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                }
            ],
        },
    }
    found = outcomes(run("REL-023", [waiting, crashing], source=Source.LIVE))
    assert found["waiting"] == (
        Status.PASSING,
        "phase Pending (ages not judged: the inventory holds no timestamp)",
    )
    assert found["crashing"] == (
        Status.FAILING,
        "container app CrashLoopBackOff (restarted 3 times)",
    )


async def test_rel024_controllers_with_unavailable_replicas(kube_api: KubeApiDouble) -> None:
    """The fixture files' controllers, served by the double and loaded live."""
    objects = [
        *fixture_objects("REL-024", "success.yaml"),
        *fixture_objects("REL-024", "failure.yaml"),
    ]
    found = outcomes(await run_live(kube_api, "REL-024", objects))
    assert found["storefront"] == (Status.PASSING, "2 of 2 replicas available")
    assert found["holiday-banner"] == (Status.PASSING, "scaled to zero")
    assert found["checkout"] == (
        Status.FAILING,
        "1 of 3 replicas available; Progressing (ProgressDeadlineExceeded: "
        'ReplicaSet "checkout-7b9f6" has timed out progressing.)',
    )
    assert found["node-exporter"] == (Status.FAILING, "2 of 3 replicas available")
    assert found["pricing"] == (Status.FAILING, "its selector matches no pod")
    assert_skipped_offline("REL-024", objects)


async def test_rel025_pending_and_lost_claims(kube_api: KubeApiDouble) -> None:
    pending = claim(
        "search-index", "shop", phase="Pending", created=ago(hours=2), storage_class="fast"
    )
    objects = [
        node("worker-a1"),
        claim("uploads", "shop", phase="Bound", created=ago(days=30)),
        pending,
        warning(
            pending, "ProvisioningFailed", 'storageclass.storage.k8s.io "fast" not found', count=40
        ),
        claim("ledger", "billing", phase="Lost", created=ago(days=90)),
        claim("new", "shop", phase="Pending", created=ago(minutes=1)),
    ]
    findings = await run_live(kube_api, "REL-025", objects)
    found = outcomes(findings)
    assert statuses(findings) == {
        "uploads": Status.PASSING,
        "search-index": Status.FAILING,
        "ledger": Status.FAILING,
        "new": Status.PASSING,
    }
    assert found["search-index"][1] == (
        'claim Pending for 2h00m (ProvisioningFailed: storageclass.storage.k8s.io "fast" '
        "not found (x40))"
    )
    assert_skipped_offline("REL-025", objects)


def test_rel025_grace_minutes_from_the_policy() -> None:
    objects = [node("worker-a1"), claim("new", "shop", phase="Pending", created=ago(minutes=8))]
    assert outcomes(run("REL-025", objects, source=Source.LIVE))["new"] == (
        Status.FAILING,
        "claim Pending for 8m",
    )
    params = catalogue("checks: {REL-025: {params: {grace_minutes: 15}}}").params(
        REGISTRY.get("REL-025")
    )
    assert outcomes(run("REL-025", objects, params=params, source=Source.LIVE))["new"] == (
        Status.PASSING,
        "claim Pending for 8m, within the grace period",
    )


async def test_rel026_unhealthy_and_cordoned_nodes(kube_api: KubeApiDouble) -> None:
    objects = [
        node("healthy"),
        node("not-ready", ready="False"),
        node("lost", ready="Unknown"),
        node("squeezed", pressure=("MemoryPressure",)),
        node("drained", unschedulable=True),
    ]
    check = REGISTRY.get("REL-026")
    inventory = await live_inventory(kube_api, objects, checks=[check])
    by_name = {f.object.name: f for f in evaluate(check, inventory) if f.object}
    assert {name: f.status for name, f in by_name.items()} == {
        "healthy": Status.PASSING,
        "not-ready": Status.FAILING,
        "lost": Status.FAILING,
        "squeezed": Status.FAILING,
        "drained": Status.FAILING,
    }
    assert by_name["not-ready"].message == "NotReady (KubeletNotReady)"
    assert by_name["lost"].message.startswith("readiness Unknown")
    assert by_name["squeezed"].message == "MemoryPressure (KubeletHasMemoryPressure)"
    assert (by_name["drained"].message, by_name["drained"].severity) == (
        "cordoned (spec.unschedulable)",
        Severity.MEDIUM,
    )
    assert by_name["not-ready"].severity is None  # the check's own: critical
    assert_skipped_offline("REL-026", objects)


async def test_rel027_single_zone_cluster(kube_api: KubeApiDouble) -> None:
    objects = [node(f"worker-{i}", zone="eu-west-1a") for i in range(3)]
    objects.append(node("cp-0", zone="eu-west-1a", control_plane=True))
    found = outcomes(await run_live(kube_api, "REL-027", objects))
    assert found == {
        "": (
            Status.FAILING,
            "worker nodes span 1 zone (eu-west-1a); single control-plane node cp-0; 3 worker nodes",
        )
    }
    assert_skipped_offline("REL-027", objects)


def test_rel027_zone_label_keys_and_minimums_come_from_the_policy() -> None:
    racks = [node(f"worker-{i}") for i in range(3)]
    for index, item in enumerate(racks):
        item["metadata"]["labels"]["example.com/rack"] = f"rack-{index % 2}"
    by_default = outcomes(run("REL-027", racks, source=Source.LIVE))[""]
    assert (
        by_default[0] is Status.PASSING and "no worker node carries a zone label" in by_default[1]
    )

    params = catalogue(
        """
        checks:
          REL-027:
            params: {zone_label_keys: [example.com/rack], min_zones: 3, min_worker_nodes: 4}
        """
    ).params(REGISTRY.get("REL-027"))
    assert params == FailureDomainParams(("example.com/rack",), min_worker_nodes=4, min_zones=3)
    assert outcomes(run("REL-027", racks, params=params, source=Source.LIVE))[""] == (
        Status.FAILING,
        "3 worker nodes (worker-0, worker-1, worker-2); worker nodes span 2 zones "
        "(rack-0, rack-1); control plane not visible (managed)",
    )


def test_status_texts_from_the_cluster_become_one_bounded_line() -> None:
    assert one_line("a\x00b\n\tc   d") == "a\\x00b c d"
    assert one_line("x" * 500, 50) == "x" * 47 + "..."
    evicted = pod("evicted", "shop", phase="Failed", containers=[])
    evicted["status"].update(reason="Evicted", message="low on memory\x00" + "y" * 5000)
    [(status, message)] = outcomes(run("REL-023", [evicted], source=Source.LIVE)).values()
    assert status is Status.FAILING
    assert message.startswith("phase Failed (Evicted: low on memory\\x00yyy")
    assert len(message) < 300 and "\x00" not in message
