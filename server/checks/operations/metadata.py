"""Operational-excellence checks on metadata: labels and where objects live."""

from __future__ import annotations

from typing import Any

from assay.server.checks.kit import (
    Applicability,
    CheckDefinition,
    Context,
    NoParams,
    Verdict,
    fail,
    ok,
    per_object,
    problems_or_ok,
)
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import WORKLOAD_KINDS
from assay.server.inventory.raw import KubeObject, kind_of, labels_of, name_of, namespace_of

RECOMMENDED_LABELS = tuple(
    f"app.kubernetes.io/{key}"
    for key in ("name", "instance", "version", "component", "part-of", "managed-by")
)
INSTANCE_LABEL = "app.kubernetes.io/instance"

OPS_001 = CheckDefinition(
    id="OPS-001",
    pillar=Pillar.OPERATIONAL_EXCELLENCE,
    name="Recommended labels",
    description=(
        "The app.kubernetes.io/* recommended labels let tools and people tell what an object "
        "is, which release it belongs to and who deploys it."
    ),
    severity=Severity.LOW,
    scope="W",
    remediation=(
        "Set app.kubernetes.io/name, instance, version, component, part-of and managed-by in "
        "metadata.labels (most charts and kustomize commonLabels can do it for every object), "
        "with app.kubernetes.io/instance equal to the object's name."
    ),
    kinds=(*WORKLOAD_KINDS, "Service"),
)


@per_object(OPS_001)
def recommended_labels(obj: KubeObject, ctx: Context[NoParams]) -> Verdict:
    labels = labels_of(obj)
    problems = []
    missing = [key for key in RECOMMENDED_LABELS if not labels.get(key)]
    if missing:
        problems.append("missing " + ", ".join(missing))
    instance, name = labels.get(INSTANCE_LABEL), name_of(obj)
    if instance and instance != name:
        problems.append(f"{INSTANCE_LABEL} {instance!r} differs from the name {name!r}")
    return problems_or_ok(problems, "has every recommended label")


DEFAULT_NAMESPACE = "default"
GENERATED_KINDS = frozenset({"Event", "Endpoints", "EndpointSlice", "Lease"})
"""Kinds the control plane writes on its own; their placement follows other objects."""
BUILTIN_DEFAULT_OBJECTS = frozenset(
    {
        ("Service", "kubernetes"),
        ("ServiceAccount", "default"),
        ("ConfigMap", "kube-root-ca.crt"),
    }
)
"""Objects Kubernetes itself creates in ``default``."""


def _placed_by_a_user(obj: KubeObject, ctx: Context[Any]) -> bool:
    kind = kind_of(obj)
    return (
        bool(namespace_of(obj))
        and kind not in GENERATED_KINDS
        and (kind, name_of(obj)) not in BUILTIN_DEFAULT_OBJECTS
    )


OPS_005 = CheckDefinition(
    id="OPS-005",
    pillar=Pillar.OPERATIONAL_EXCELLENCE,
    name="Objects in default namespace",
    description=(
        "The default namespace gets no dedicated RBAC, quotas or network policies; objects "
        "land there by accident (a missing -n or namespace field) and are hard to attribute."
    ),
    severity=Severity.LOW,
    scope="W",
    remediation=(
        "Move the object to a namespace of its own application or team: set "
        "metadata.namespace in the manifest (or the kustomize namespace field / helm "
        "--namespace) and delete the copy in default."
    ),
    kinds=(
        *WORKLOAD_KINDS,
        "Service",
        "ConfigMap",
        "ServiceAccount",
        "PersistentVolumeClaim",
        "Ingress",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "Role",
        "RoleBinding",
    ),
    applies_to=Applicability(
        "namespaced objects of every kind, except those the control plane writes (Events, "
        "Endpoints, EndpointSlices, Leases) or creates in default itself (the kubernetes "
        "Service, the default ServiceAccount, kube-root-ca.crt)",
        _placed_by_a_user,
    ),
)


@per_object(OPS_005, every_kind=True)
def default_namespace(obj: KubeObject, ctx: Context[NoParams]) -> Verdict:
    namespace = namespace_of(obj)
    if namespace == DEFAULT_NAMESPACE:
        return fail("lives in the default namespace")
    return ok(f"lives in namespace {namespace}")


CHECKS = (recommended_labels, default_namespace)
