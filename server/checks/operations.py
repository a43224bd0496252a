"""Operational-excellence pillar checks (OPS-*): definitions and their functions.

Collected into the built-in registry by :mod:`assay.server.checks`.
"""

from __future__ import annotations

from collections.abc import Iterator

from assay.server.checks.kit.definition import Check, CheckDefinition, Finding, check
from assay.server.core.types import ObjectRef, Pillar, Severity
from assay.server.inventory import WORKLOAD_KINDS, Inventory
from assay.server.inventory.raw import kind_of, labels_of, name_of, namespace_of

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
)

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


def recommended_labels(inventory: Inventory) -> Iterator[Finding]:
    labelled = [(w.ref, w.obj) for w in inventory.workloads()]
    labelled.extend(
        (ObjectRef("Service", name_of(s), namespace_of(s)), s) for s in inventory.objects("Service")
    )
    for ref, obj in labelled:
        labels = labels_of(obj)
        problems = []
        missing = [key for key in RECOMMENDED_LABELS if not labels.get(key)]
        if missing:
            problems.append("missing " + ", ".join(missing))
        instance = labels.get(INSTANCE_LABEL)
        if instance and instance != ref.name:
            problems.append(f"{INSTANCE_LABEL} {instance!r} differs from the name {ref.name!r}")
        if problems:
            yield Finding.failing(ref, "; ".join(problems))
        else:
            yield Finding.passing(ref, "has every recommended label")


def default_namespace(inventory: Inventory) -> Iterator[Finding]:
    for kind in inventory.kinds():
        if kind in GENERATED_KINDS:
            continue
        for namespace in inventory.namespaces_of(kind):
            if not namespace:
                continue  # cluster-scoped
            for obj in inventory.objects(kind, namespace):
                name = name_of(obj)
                if inventory.is_owned(obj) or (kind_of(obj), name) in BUILTIN_DEFAULT_OBJECTS:
                    continue
                ref = ObjectRef(kind, name, namespace)
                if namespace == DEFAULT_NAMESPACE:
                    yield Finding.failing(ref, "lives in the default namespace")
                else:
                    yield Finding.passing(ref, f"lives in namespace {namespace}")


CHECKS: tuple[Check, ...] = (
    check(OPS_001)(recommended_labels),
    check(OPS_005)(default_namespace),
)
