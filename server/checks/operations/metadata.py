"""Operational-excellence checks on metadata: labels, ownership and where objects live.

Objects Kubernetes itself creates (the kit's ``system_objects``) are left out of all three:
nobody chose their labels or their namespace.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from assay.server.checks.kit import (
    USER_OBJECTS,
    Applicability,
    CheckDefinition,
    Context,
    Finding,
    NoParams,
    Verdict,
    check,
    fail,
    ok,
    param,
    per_object,
    problems_or_ok,
    ref_of,
)
from assay.server.checks.kit.system_objects import (
    CONTROL_PLANE_WRITTEN_KINDS,
    created_by_kubernetes,
)
from assay.server.checks.kit.walk import top_level
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import WORKLOAD_KINDS
from assay.server.inventory.raw import (
    KubeObject,
    annotations_of,
    kind_of,
    labels_of,
    name_of,
    namespace_of,
)

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
    applies_to=USER_OBJECTS,
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


@dataclass(frozen=True)
class OwnershipParams:
    owner_labels: frozenset[str] = param(
        frozenset({"owner", "team"}), "label keys that name the owning team"
    )
    contact_annotations: frozenset[str] = param(
        frozenset({"owner", "team", "contact", "email", "a8r.io/owner"}),
        "annotation keys that say whom to contact",
    )
    inherit_from_namespace: bool = param(
        True, "a workload passes when its Namespace object carries the ownership metadata"
    )


OPS_002 = CheckDefinition(
    id="OPS-002",
    pillar=Pillar.OPERATIONAL_EXCELLENCE,
    name="Ownership metadata",
    description=(
        "When a workload pages someone at night, its metadata should say whose it is: an "
        "owner or team label, or a contact annotation, on the object or its namespace."
    ),
    severity=Severity.LOW,
    scope="W",
    remediation=(
        "Label the namespace (or each workload) with its owning team, e.g. team: payments, "
        "or annotate it with a contact (contact: payments-oncall@example.com); set the keys "
        "your organisation uses in the check's parameters."
    ),
    kinds=(*WORKLOAD_KINDS, "Namespace"),
    applies_to=USER_OBJECTS,
    params=OwnershipParams,
    notes=(
        "kube-linter's optional required-label-owner and required-annotation-email checks "
        "each demand one fixed key on every object; this check accepts any of the "
        "configured label or annotation keys, and the namespace's.",
    ),
)


def _ownership(obj: KubeObject, params: OwnershipParams) -> str:
    """The first ownership label or annotation of ``obj`` (``key=value``), or ``""``."""
    for keys, values in (
        (params.owner_labels, labels_of(obj)),
        (params.contact_annotations, annotations_of(obj)),
    ):
        for key in sorted(keys):
            if values.get(key):
                return f"{key}={values[key]}"
    return ""


@check(OPS_002)
def ownership_metadata(ctx: Context[OwnershipParams]) -> Iterator[Finding]:
    for kind in OPS_002.kinds:
        for obj in top_level(ctx.inventory, kind):
            if USER_OBJECTS.applies(obj, ctx):
                yield _ownership_verdict(obj, ctx).about(ref_of(kind, obj))


def _ownership_verdict(obj: KubeObject, ctx: Context[OwnershipParams]) -> Verdict:
    params = ctx.params
    found = _ownership(obj, params)
    if found:
        return ok(f"owned: {found}")
    namespace = namespace_of(obj)
    if namespace and params.inherit_from_namespace:
        holder = ctx.inventory.get("Namespace", "", namespace)
        inherited = "" if holder is None else _ownership(holder, params)
        if inherited:
            return ok(f"owned through namespace {namespace}: {inherited}")
    where = f" here or on namespace {namespace}" if namespace else ""
    return fail(
        f"no owner label ({', '.join(sorted(params.owner_labels))}) and no contact "
        f"annotation ({', '.join(sorted(params.contact_annotations))}){where}"
    )


DEFAULT_NAMESPACE = "default"


def _placed_by_a_user(obj: KubeObject, ctx: Context[Any]) -> bool:
    return (
        bool(namespace_of(obj))
        and kind_of(obj) not in CONTROL_PLANE_WRITTEN_KINDS
        and not created_by_kubernetes(obj)
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
        "Endpoints, EndpointSlices, Leases, metrics) or Kubernetes creates itself (the "
        "kubernetes Service, the default ServiceAccount, kube-root-ca.crt)",
        _placed_by_a_user,
    ),
)


@check(OPS_005)
def default_namespace(ctx: Context[NoParams]) -> Iterator[Finding]:
    for kind in ctx.inventory.kinds():
        for obj in top_level(ctx.inventory, kind):
            if not _placed_by_a_user(obj, ctx):
                continue
            namespace, ref = namespace_of(obj), ref_of(kind, obj)
            if namespace == DEFAULT_NAMESPACE:
                yield Finding.failing(ref, "lives in the default namespace")
            else:
                yield Finding.passing(ref, f"lives in namespace {namespace}")


CHECKS = (recommended_labels, ownership_metadata, default_namespace)
