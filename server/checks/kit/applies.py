"""Common answers to "which objects does this check apply to" (see ``Applicability``).

Used as ``CheckDefinition(applies_to=...)``; the rule helpers leave out what they reject
and the generated docs print their description. Combine two with ``&``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from assay.server.checks.kit.definition import Applicability, Context
from assay.server.checks.kit.podspec import is_windows
from assay.server.checks.kit.system_objects import MIRROR_POD_ANNOTATION, created_by_kubernetes
from assay.server.inventory.model import Inventory
from assay.server.inventory.raw import dig, int_or_none
from assay.server.inventory.workloads import Workload

REPLICATED_KINDS = ("Deployment", "StatefulSet")
CONTROLLER_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")
"""Controllers that select their pods by labels and report how many are available."""
CRITICAL_PRIORITY_CLASSES = frozenset({"system-cluster-critical", "system-node-critical"})
SYSTEM_CRITICAL_PRIORITY = 2_000_000_000
"""Pods at or above this priority are critical: the kubelet never evicts them for node
pressure (the value of system-cluster-critical; system-node-critical is above it)."""


def _long_running(workload: Workload, ctx: Context[Any]) -> bool:
    return not workload.is_batch


def _controller(workload: Workload, ctx: Context[Any]) -> bool:
    return workload.kind in CONTROLLER_KINDS


def controllers(description: str) -> Applicability:
    """The workloads of :data:`CONTROLLER_KINDS` (no bare pods or Jobs), as ``description``
    says in the docs."""
    return Applicability(description, _controller)


def _linux(workload: Workload, ctx: Context[Any]) -> bool:
    return not is_windows(workload.pod_spec)


def _chosen_by_a_user(subject: object, ctx: Context[Any]) -> bool:
    obj = subject.obj if isinstance(subject, Workload) else subject
    if not isinstance(obj, Mapping):
        return False
    return not ctx.inventory.per_object("kit:created-by-kubernetes", created_by_kubernetes, obj)


LONG_RUNNING = Applicability(
    "long-running workloads (not Jobs, CronJobs or Pods that run to completion)", _long_running
)
LINUX_PODS = Applicability("Linux pods (Windows pods have no such setting)", _linux)
USER_OBJECTS = Applicability(
    "objects not created by Kubernetes itself (the built-in namespaces, default "
    "ServiceAccounts, kube-root-ca.crt, the kubernetes Service, the API server's ConfigMaps, "
    "bootstrap RBAC, kubeadm's CoreDNS and kube-proxy, control-plane static pods)",
    _chosen_by_a_user,
)


def expected_replicas(inventory: Inventory, workload: Workload) -> int:
    """The replica count to plan for: ``spec.replicas`` (default 1) or, when an autoscaler
    targets the workload, the largest minimum it keeps (HPA ``minReplicas``, default 1;
    KEDA ``minReplicaCount``, default 0)."""
    count = workload.replicas or 0
    for scaler in inventory.scalers_targeting(workload.kind, workload.namespace, workload.name):
        if scaler.get("kind") == "HorizontalPodAutoscaler":
            field, default = "minReplicas", 1
        else:  # a KEDA ScaledObject
            field, default = "minReplicaCount", 0
        minimum = int_or_none(dig(scaler, "spec").get(field))
        count = max(count, default if minimum is None else minimum)
    return count


def replicated(minimum: int = 2, kinds: tuple[str, ...] = REPLICATED_KINDS) -> Applicability:
    """Workloads of ``kinds`` planned to run at least ``minimum`` replicas (autoscaler
    minimums count)."""

    def test(workload: Workload, ctx: Context[Any]) -> bool:
        return workload.kind in kinds and expected_replicas(ctx.inventory, workload) >= minimum

    names = " and ".join(f"{k}s" for k in kinds)
    return Applicability(
        f"{names} with at least {minimum} replicas (an autoscaler's minimum counts)", test
    )


def is_cluster_addon(workload: Workload, critical_classes: frozenset[str]) -> bool:
    """A static pod (the kubelet's mirror of a node's manifest) or a workload of a critical
    priority class (``critical_classes``, or a live pod's ``spec.priority`` at or above
    system-cluster-critical's): the add-ons a cluster's vendor ships and sizes, such as the
    control plane, CoreDNS and kube-proxy."""
    spec = workload.pod_spec
    if str(spec.get("priorityClassName") or "") in critical_classes:
        return True
    if MIRROR_POD_ANNOTATION in workload.object_annotations:
        return True
    priority = int_or_none(spec.get("priority"))
    return priority is not None and priority >= SYSTEM_CRITICAL_PRIORITY
