"""Kubernetes objects with the status a live cluster reports, for the live-status checks.

Builders for pods (running, crash-looping, pulling, evicted), nodes (ready, NotReady,
under pressure, cordoned, zoned), controllers with status counts, EndpointSlices, claims
and events. Every timestamp is relative to :data:`NOW`, the newest node heartbeat, so a
check's "now" (the inventory's observation time) is :data:`NOW` in every test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.unit.checks import objects

Obj = objects.Obj

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def ago(*, minutes: float = 0, hours: float = 0, days: float = 0) -> str:
    moment = NOW - timedelta(minutes=minutes, hours=hours, days=days)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def meta(name: str, namespace: str | None = None, **extra: Any) -> Obj:
    """Metadata of an object created ten days before :data:`NOW` (cluster-scoped unless
    ``namespace`` is given)."""
    return objects.meta(name, namespace, **{"creationTimestamp": ago(days=10), **extra})


def node(
    name: str,
    *,
    ready: str = "True",
    pressure: tuple[str, ...] = (),
    unschedulable: bool = False,
    zone: str | None = None,
    control_plane: bool = False,
) -> Obj:
    labels = {"kubernetes.io/hostname": name}
    if zone:
        labels["topology.kubernetes.io/zone"] = zone
    spec: Obj = {}
    if control_plane:
        labels["node-role.kubernetes.io/control-plane"] = ""
        spec["taints"] = [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
    if unschedulable:
        spec["unschedulable"] = True
        spec.setdefault("taints", []).append(
            {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
        )
    reasons = {"True": "KubeletReady", "False": "KubeletNotReady", "Unknown": "NodeStatusUnknown"}
    conditions = [
        {
            "type": kind,
            "status": "True" if kind in pressure else "False",
            "reason": f"Kubelet{'Has' if kind in pressure else 'HasNo'}{kind}",
            "lastHeartbeatTime": ago(),
            "lastTransitionTime": ago(days=3),
        }
        for kind in ("MemoryPressure", "DiskPressure", "PIDPressure")
    ]
    conditions.append(
        {
            "type": "Ready",
            "status": ready,
            "reason": reasons[ready],
            "message": "kubelet is posting ready status" if ready == "True" else "",
            "lastHeartbeatTime": ago() if ready != "Unknown" else ago(minutes=7),
            "lastTransitionTime": ago(days=3) if ready == "True" else ago(minutes=6),
        }
    )
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": meta(name, labels=labels),
        "spec": spec,
        "status": {
            "conditions": conditions,
            "allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"},
            "nodeInfo": {
                "kubeletVersion": "v1.31.0",
                "containerRuntimeVersion": "containerd://1.7.20",
            },
        },
    }


def running(name: str, restarts: int = 0, last_exit: Obj | None = None) -> Obj:
    status: Obj = {
        "name": name,
        "ready": True,
        "started": True,
        "restartCount": restarts,
        "image": f"registry.example.com/{name}:1.0.0",
        "state": {"running": {"startedAt": ago(hours=5)}},
    }
    if last_exit:
        status["lastState"] = {"terminated": last_exit}
    return status


def crash_looping(name: str, restarts: int) -> Obj:
    return {
        "name": name,
        "ready": False,
        "started": False,
        "restartCount": restarts,
        "image": f"registry.example.com/{name}:1.0.0",
        "state": {
            "waiting": {
                "reason": "CrashLoopBackOff",
                "message": f"back-off 5m0s restarting failed container={name}",
            }
        },
        "lastState": {
            "terminated": {
                "exitCode": 1,
                "reason": "Error",
                "startedAt": ago(minutes=3),
                "finishedAt": ago(minutes=2),
            }
        },
    }


def pulling(name: str, reason: str = "ImagePullBackOff") -> Obj:
    return {
        "name": name,
        "ready": False,
        "restartCount": 0,
        "image": f"registry.example.com/{name}:9.9.9",
        "state": {
            "waiting": {
                "reason": reason,
                "message": f'Back-off pulling image "registry.example.com/{name}:9.9.9"',
            }
        },
    }


def pod(
    name: str,
    namespace: str,
    *,
    labels: dict[str, str] | None = None,
    phase: str = "Running",
    containers: list[Obj] | None = None,
    ready: bool = True,
    owner: tuple[str, str] | None = None,
    **status: Any,
) -> Obj:
    statuses = containers if containers is not None else [running("app")]
    metadata = meta(name, namespace, labels=labels or {})
    if owner:
        kind, owner_name = owner
        metadata["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": kind,
                "name": owner_name,
                "uid": f"uid-{owner_name}",
                "controller": True,
            }
        ]
    condition = "True" if ready else "False"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {
            "nodeName": "worker-a1",
            "containers": [{"name": s["name"], "image": s["image"]} for s in statuses],
        },
        "status": {
            "phase": phase,
            "startTime": ago(days=1),
            "conditions": [
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": ago(days=1)},
                {"type": "Ready", "status": condition, "lastTransitionTime": ago(hours=1)},
                {
                    "type": "ContainersReady",
                    "status": condition,
                    "lastTransitionTime": ago(hours=1),
                },
            ],
            "containerStatuses": statuses,
            **status,
        },
    }


def deployment(name: str, namespace: str, *, replicas: int, available: int, **status: Any) -> Obj:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(name, namespace, uid=f"uid-{name}", generation=2),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [{"name": "app", "image": f"registry.example.com/{name}:1"}]
                },
            },
        },
        "status": {
            "observedGeneration": 2,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": available,
            "availableReplicas": available,
            "unavailableReplicas": replicas - available,
            **status,
        },
    }


def replica_set(name: str, namespace: str, deployment: str) -> Obj:
    """The ReplicaSet a Deployment made (so its pods are owned, as on a cluster)."""
    labels = {"app": deployment}
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": meta(
            name,
            namespace,
            labels=labels,
            ownerReferences=[
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": deployment,
                    "uid": f"uid-{deployment}",
                    "controller": True,
                }
            ],
        ),
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [{"name": "app", "image": f"registry.example.com/{deployment}:1"}]
                },
            },
        },
    }


def service(name: str, namespace: str, selector: dict[str, str] | None, **spec: Any) -> Obj:
    body: Obj = {"ports": [{"name": "http", "port": 80, "targetPort": 8080}], **spec}
    if selector is not None:
        body["selector"] = selector
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta(name, namespace), "spec": body}


def endpoint_slice(
    service_name: str, namespace: str, pods: dict[str, bool], suffix: str = "a"
) -> Obj:
    """An EndpointSlice of ``service_name`` with one endpoint per pod name (ready or not)."""
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": meta(
            f"{service_name}-{suffix}",
            namespace,
            labels={
                "kubernetes.io/service-name": service_name,
                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
            },
        ),
        "addressType": "IPv4",
        "endpoints": [
            {
                "addresses": [f"10.244.0.{index + 10}"],
                "conditions": {"ready": is_ready, "serving": is_ready, "terminating": False},
                "nodeName": "worker-a1",
                "targetRef": {"kind": "Pod", "namespace": namespace, "name": pod_name},
            }
            for index, (pod_name, is_ready) in enumerate(pods.items())
        ],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    }


def kubernetes_service_slice() -> Obj:
    """The slice every cluster has, for the API server behind the ``kubernetes`` Service."""
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": meta(
            "kubernetes", "default", labels={"kubernetes.io/service-name": "kubernetes"}
        ),
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["172.18.0.2"], "conditions": {"ready": True}}],
        "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}],
    }


def claim(
    name: str, namespace: str, *, phase: str, created: str, storage_class: str | None = None
) -> Obj:
    spec: Obj = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}}
    if storage_class is not None:
        spec["storageClassName"] = storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": created},
        "spec": spec,
        "status": {"phase": phase},
    }


def warning(
    about: Obj, reason: str, message: str, *, count: int = 1, minutes_ago: float = 1
) -> Obj:
    """A core v1 Warning event about ``about``."""
    metadata = about["metadata"]
    namespace = metadata.get("namespace", "default")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{metadata['name']}.{reason.lower()}",
            "namespace": namespace,
            "creationTimestamp": ago(minutes=minutes_ago),
        },
        "involvedObject": {
            "apiVersion": about["apiVersion"],
            "kind": about["kind"],
            "namespace": namespace,
            "name": metadata["name"],
        },
        "type": "Warning",
        "reason": reason,
        "message": message,
        "count": count,
        "firstTimestamp": ago(minutes=minutes_ago + 30),
        "lastTimestamp": ago(minutes=minutes_ago),
        "source": {"component": "test"},
    }
