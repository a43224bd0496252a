"""Operational-excellence checks on Kubernetes versions: deprecated APIs and fields (OPS-003)
and whether the cluster runs a supported release (OPS-004).

Both read versions as ``1.x`` minors (:func:`minor_of`); the deprecation table is
:mod:`.deprecations`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from assay.server.checks.kit import (
    Applicability,
    CheckDefinition,
    Context,
    Finding,
    Verdict,
    check,
    fail,
    ok,
    param,
    ref_of,
)
from assay.server.checks.kit.system_objects import created_by_kubernetes
from assay.server.checks.kit.walk import top_level
from assay.server.checks.operations.deprecations import (
    APPARMOR_ANNOTATIONS,
    APPARMOR_PREFIX,
    DEPRECATED_KINDS,
    GIT_REPO_VOLUME,
    NEWEST_KNOWN_MINOR,
    SECCOMP_ANNOTATIONS,
    SECCOMP_PREFIXES,
    SERVICE_ACCOUNT_FIELD,
    FieldDeprecation,
    api_deprecation,
)
from assay.server.core.types import ObjectRef, Pillar, Severity, Source
from assay.server.inventory import WORKLOAD_KINDS, Workload
from assay.server.inventory.raw import KubeObject, as_mappings, dig, kind_of, name_of

_VERSION = re.compile(r"^v?1\.(\d+)(?:\.\d+)?")
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_LAST_APPLIED_LIMIT = 512 * 1024
"""Larger annotations are not parsed (the API caps all annotations at 256 KiB)."""


def minor_of(version: object) -> int | None:
    """The minor of a Kubernetes ``1.x`` version (``v1.31.2-eks-1a2b`` -> 31), else None."""
    if not isinstance(version, str):
        return None
    match = _VERSION.match(version.strip())
    return int(match.group(1)) if match else None


# -- OPS-003 -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeprecationParams:
    target_minor: int | None = param(
        None,
        "Kubernetes 1.x minor to judge against (e.g. 36 for an upgrade to v1.36); default: "
        "the API server's version live, and the newest release the table knows on manifests",
    )


def _judged(obj: KubeObject, ctx: Context[Any]) -> bool:
    kind = kind_of(obj)
    return (kind in DEPRECATED_KINDS or kind in WORKLOAD_KINDS) and not created_by_kubernetes(obj)


OPS_003 = CheckDefinition(
    id="OPS-003",
    pillar=Pillar.OPERATIONAL_EXCELLENCE,
    name="Deprecated/removed APIs and fields",
    description=(
        "An API version the target release no longer serves makes every apply of the "
        "manifest fail (an upgrade breaks the delivery pipeline); deprecated versions and "
        "fields are the next release's removals."
    ),
    severity=Severity.HIGH,
    scope="W",
    remediation=(
        "Rewrite the manifest (chart template, kustomization) with the replacement API "
        "version the message names (kubectl convert can help) and apply it; replace "
        "spec.serviceAccount with spec.serviceAccountName, gitRepo volumes with an init "
        "container cloning into an emptyDir, and seccomp/AppArmor annotations with the "
        "securityContext fields."
    ),
    kinds=(
        *WORKLOAD_KINDS,
        "Service",
        "Ingress",
        "IngressClass",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "Role",
        "RoleBinding",
        "ClusterRole",
        "ClusterRoleBinding",
        "PriorityClass",
        "StorageClass",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
        "APIService",
    ),
    applies_to=Applicability(
        "workloads (for their pod-spec fields) and objects of every kind the table knows a "
        "deprecated version of (no other kind can have one), except those Kubernetes "
        "creates itself",
        _judged,
    ),
    params=DeprecationParams,
    notes=(
        "Removed API versions and fields are high, deprecated ones medium. The table "
        "follows the upstream deprecation guide (v1.16 to v1.32 removals) and the "
        f"resource.k8s.io changes up to v1.{NEWEST_KNOWN_MINOR}.",
        "Live, the API server returns every object at the version it is listed at, never "
        "the one it was written with: the check then reads the apiVersion of the "
        "kubectl.kubernetes.io/last-applied-configuration annotation (what kubectl apply "
        "last sent). It cannot see Helm release manifests, server-side-applied objects or "
        "clients that call deprecated versions (the API server's "
        "apiserver_requested_deprecated_apis metric and audit log show those).",
        "The API server fills spec.serviceAccount from spec.serviceAccountName on every "
        "pod it returns, so only a serviceAccount set without (or unlike) serviceAccountName "
        "is reported; kube-linter and kubeaudit report any serviceAccount.",
    ),
)


def _target(ctx: Context[DeprecationParams]) -> tuple[int, str]:
    """The minor to judge against and how to name it in messages."""
    if ctx.params.target_minor is not None:
        return ctx.params.target_minor, f"target v1.{ctx.params.target_minor}"
    served = minor_of(ctx.inventory.server_version)
    if served is not None:
        return served, f"the cluster's {ctx.inventory.server_version}"
    return NEWEST_KNOWN_MINOR, f"v1.{NEWEST_KNOWN_MINOR}, the newest release known"


@check(OPS_003)
def deprecated_apis(ctx: Context[DeprecationParams]) -> Iterator[Finding]:
    inventory = ctx.inventory
    target, basis = _target(ctx)
    for workload in inventory.workloads():
        if _judged(workload.obj, ctx):
            verdict = _verdict(workload.obj, target, basis, inventory.source, workload)
            yield verdict.about(workload.ref)
    for kind in inventory.kinds():
        if kind in WORKLOAD_KINDS or kind not in DEPRECATED_KINDS:
            continue
        for obj in top_level(inventory, kind):
            if _judged(obj, ctx):
                yield _verdict(obj, target, basis, inventory.source).about(ref_of(kind, obj))


def _verdict(
    obj: KubeObject, target: int, basis: str, source: Source, workload: Workload | None = None
) -> Verdict:
    kind = kind_of(obj)
    api_version = str(obj.get("apiVersion") or "")
    found: list[tuple[bool, str]] = []
    found.extend(_api_problem(api_version, kind, target, f"apiVersion {api_version}"))
    applied = _last_applied_version(obj)
    if applied and applied != api_version:
        subject = f"last applied (kubectl) as {applied}"
        found.extend(_api_problem(applied, kind, target, subject))
    if workload is not None:
        for field in _deprecated_fields(workload, source):
            found.extend(_field_problem(field, target))
    if not found:
        return ok(f"apiVersion {api_version} {kind} and its fields are current for {basis}")
    removed = any(gone for gone, _ in found)
    message = "; ".join(text for _, text in found) + f" (judged for {basis})"
    return fail(message, severity=Severity.HIGH if removed else Severity.MEDIUM)


def _api_problem(
    group_version: str, kind: str, target: int, subject: str
) -> Iterator[tuple[bool, str]]:
    entry = api_deprecation(group_version, kind)
    if entry is None:
        return
    if entry.removed_in is not None and target >= entry.removed_in:
        yield True, f"{subject} {kind} is removed in v1.{entry.removed_in}: use {entry.replacement}"
    elif target >= entry.deprecated_in:
        removal = f", removed in v1.{entry.removed_in}" if entry.removed_in else ""
        yield (
            False,
            f"{subject} {kind} is deprecated since v1.{entry.deprecated_in}{removal}: use "
            f"{entry.replacement}",
        )


def _field_problem(field: FieldDeprecation, target: int) -> Iterator[tuple[bool, str]]:
    if field.removed_in is not None and target >= field.removed_in:
        yield (
            True,
            f"{field.what} stopped working in v1.{field.removed_in}: use {field.replacement}",
        )
    elif field.deprecated_in is None or target >= field.deprecated_in:
        since = f" since v1.{field.deprecated_in}" if field.deprecated_in else ""
        yield False, f"{field.what} is deprecated{since}: use {field.replacement}"


def _last_applied_version(obj: KubeObject) -> str:
    raw = dig(obj, "metadata", "annotations").get(LAST_APPLIED)
    if not isinstance(raw, str) or not raw or len(raw) > _LAST_APPLIED_LIMIT:
        return ""
    try:
        applied = json.loads(raw)
    except ValueError:
        return ""
    value = applied.get("apiVersion") if isinstance(applied, dict) else None
    return value if isinstance(value, str) else ""


def _deprecated_fields(workload: Workload, source: Source) -> Iterator[FieldDeprecation]:
    spec = workload.pod_spec
    account, account_name = spec.get("serviceAccount"), spec.get("serviceAccountName")
    if account and account != account_name:
        yield SERVICE_ACCOUNT_FIELD
    if any("gitRepo" in volume for volume in as_mappings(spec.get("volumes"))):
        yield GIT_REPO_VOLUME
    # The API server may add these annotations to Pods it creates from the fields; only a
    # template (or a manifest's Pod) shows what a user wrote.
    if workload.kind == "Pod" and source is Source.LIVE:
        return
    keys = [str(k) for k in dig(workload.template_metadata, "annotations")]
    if any(key.startswith(SECCOMP_PREFIXES) for key in keys):
        yield SECCOMP_ANNOTATIONS
    if any(key.startswith(APPARMOR_PREFIX) for key in keys):
        yield APPARMOR_ANNOTATIONS


# -- OPS-004 -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SupportParams:
    oldest_supported_minor: int = param(
        35,
        "oldest Kubernetes 1.x minor still supported (upstream on 2026-11-27: 1.35; raise "
        "or lower it for your provider's support window)",
    )
    newest_known_minor: int = param(
        37, "newest released 1.x minor; newer versions pass with a note to update the window"
    )
    max_kubelet_skew: int = param(
        3, "most minors a kubelet may lag behind the API server (the upstream skew policy)"
    )


OPS_004 = CheckDefinition(
    id="OPS-004",
    pillar=Pillar.OPERATIONAL_EXCELLENCE,
    name="Cluster version support",
    description=(
        "A Kubernetes minor release gets security and bug fixes for about 14 months; a "
        "control plane or kubelet past that window runs unpatched, and kubelets outside the "
        "version-skew policy are untested combinations."
    ),
    severity=Severity.MEDIUM,
    scope="C+L",
    remediation=(
        "Plan the upgrade one minor at a time to a supported release (run OPS-003 with "
        "target_minor set to it first); upgrade kubelets, never newer than the API server "
        "and at most three minors behind it."
    ),
    kinds=("Node",),
    applies_to=Applicability(
        "the control plane (the API server's version) and every node (its kubelet's version)"
    ),
    params=SupportParams,
    notes=(
        "The default window is upstream's on 2026-11-27: the three newest minors, v1.35 to "
        "v1.37, each patched for about 14 months (v1.34's support ended in October 2026). "
        "Managed offerings support longer (EKS and GKE extended support, AKS LTS): set "
        "oldest_supported_minor to your provider's.",
        "The control plane's version is the API server's /version gitVersion; each node's "
        "is its status.nodeInfo.kubeletVersion.",
    ),
)


@check(OPS_004)
def version_support(ctx: Context[SupportParams]) -> Iterator[Finding]:
    params, inventory = ctx.params, ctx.inventory
    version = inventory.server_version
    server = minor_of(version)
    if version is None:
        yield Finding.skipped(None, "the API server's version is unknown (no /version read)")
    elif server is None:
        yield Finding.skipped(None, f"the API server's version {version!r} is not a 1.x version")
    else:
        yield _window(None, f"the API server runs {version}", server, params)
    for node in inventory.objects("Node"):
        ref = ref_of("Node", node)
        kubelet = str(dig(node, "status", "nodeInfo").get("kubeletVersion") or "")
        minor = minor_of(kubelet)
        if minor is None:
            yield Finding.skipped(
                ref, f"no readable status.nodeInfo.kubeletVersion on {name_of(node)}"
            )
            continue
        if server is not None and minor > server:
            yield Finding.failing(
                ref, f"kubelet {kubelet} is newer than the API server {version}: unsupported skew"
            )
        elif server is not None and server - minor > params.max_kubelet_skew:
            yield Finding.failing(
                ref,
                f"kubelet {kubelet} is {server - minor} minors behind the API server {version} "
                f"(at most {params.max_kubelet_skew} are supported)",
            )
        else:
            yield _window(ref, f"kubelet {kubelet}", minor, params)


def _window(ref: ObjectRef | None, what: str, minor: int, params: SupportParams) -> Finding:
    oldest, newest = params.oldest_supported_minor, params.newest_known_minor
    if minor < oldest:
        return Finding.failing(
            ref, f"{what}: v1.{minor} is out of support (supported: v1.{oldest} to v1.{newest})"
        )
    if minor > newest:
        return Finding.passing(
            ref, f"{what}: newer than v1.{newest}, the newest release the window knows"
        )
    return Finding.passing(ref, f"{what}: supported (v1.{oldest} to v1.{newest})")


CHECKS = (deprecated_apis, version_support)
