"""What Kubernetes deprecated and removed, by release: API versions and pod-spec fields.

Data for OPS-003, from the upstream "Deprecated API Migration Guide" (every section from
v1.16 to v1.32, the last release that removed a GA-track beta API) and the release notes of
v1.33 to v1.37 for the dynamic-resource-allocation (``resource.k8s.io``) versions, whose
alphas were replaced without the beta deprecation period. Versions are 1.x minor numbers;
``removed_in`` is ``None`` while upstream has announced no removal.

Update it with each Kubernetes release (and :data:`NEWEST_KNOWN_MINOR` with it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

NEWEST_KNOWN_MINOR = 37
"""The newest Kubernetes minor release this table was checked against (v1.37)."""


@dataclass(frozen=True, slots=True)
class ApiDeprecation:
    """One API version of some kinds, and when it was deprecated and stopped being served."""

    group_version: str
    kinds: frozenset[str]
    deprecated_in: int
    removed_in: int | None
    replacement: str


def _d(
    group_version: str,
    kinds: Iterable[str],
    deprecated_in: int,
    removed_in: int | None,
    replacement: str,
) -> ApiDeprecation:
    return ApiDeprecation(group_version, frozenset(kinds), deprecated_in, removed_in, replacement)


_WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")
_RBAC = ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
_FLOW_CONTROL = ("FlowSchema", "PriorityLevelConfiguration")
_DRA = ("DeviceClass", "ResourceClaim", "ResourceClaimTemplate", "ResourceSlice")
_CLASSIC_DRA = ("ResourceClass", "ResourceClaim", "ResourceClaimTemplate")

API_DEPRECATIONS: tuple[ApiDeprecation, ...] = (
    # removed in v1.16
    _d("extensions/v1beta1", ("Deployment", "DaemonSet", "ReplicaSet"), 9, 16, "apps/v1"),
    _d("apps/v1beta1", ("Deployment", "StatefulSet", "ReplicaSet"), 9, 16, "apps/v1"),
    _d("apps/v1beta2", _WORKLOADS, 9, 16, "apps/v1"),
    _d("extensions/v1beta1", ("NetworkPolicy",), 9, 16, "networking.k8s.io/v1"),
    _d("extensions/v1beta1", ("PodSecurityPolicy",), 10, 16, "policy/v1beta1"),
    # removed in v1.22
    _d("extensions/v1beta1", ("Ingress",), 14, 22, "networking.k8s.io/v1"),
    _d("networking.k8s.io/v1beta1", ("Ingress", "IngressClass"), 19, 22, "networking.k8s.io/v1"),
    _d(
        "admissionregistration.k8s.io/v1beta1",
        ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"),
        16,
        22,
        "admissionregistration.k8s.io/v1",
    ),
    _d(
        "apiextensions.k8s.io/v1beta1",
        ("CustomResourceDefinition",),
        16,
        22,
        "apiextensions.k8s.io/v1",
    ),
    _d("apiregistration.k8s.io/v1beta1", ("APIService",), 19, 22, "apiregistration.k8s.io/v1"),
    _d("authentication.k8s.io/v1beta1", ("TokenReview",), 19, 22, "authentication.k8s.io/v1"),
    _d(
        "authorization.k8s.io/v1beta1",
        ("SubjectAccessReview", "LocalSubjectAccessReview", "SelfSubjectAccessReview"),
        19,
        22,
        "authorization.k8s.io/v1",
    ),
    _d(
        "certificates.k8s.io/v1beta1",
        ("CertificateSigningRequest",),
        19,
        22,
        "certificates.k8s.io/v1",
    ),
    _d("coordination.k8s.io/v1beta1", ("Lease",), 19, 22, "coordination.k8s.io/v1"),
    _d("rbac.authorization.k8s.io/v1beta1", _RBAC, 17, 22, "rbac.authorization.k8s.io/v1"),
    _d("scheduling.k8s.io/v1beta1", ("PriorityClass",), 14, 22, "scheduling.k8s.io/v1"),
    _d(
        "storage.k8s.io/v1beta1",
        ("CSIDriver", "CSINode", "StorageClass", "VolumeAttachment"),
        19,
        22,
        "storage.k8s.io/v1",
    ),
    # removed in v1.25
    _d("batch/v1beta1", ("CronJob",), 21, 25, "batch/v1"),
    _d("discovery.k8s.io/v1beta1", ("EndpointSlice",), 21, 25, "discovery.k8s.io/v1"),
    _d("events.k8s.io/v1beta1", ("Event",), 19, 25, "events.k8s.io/v1"),
    _d("autoscaling/v2beta1", ("HorizontalPodAutoscaler",), 22, 25, "autoscaling/v2"),
    _d("policy/v1beta1", ("PodDisruptionBudget",), 21, 25, "policy/v1"),
    _d(
        "policy/v1beta1",
        ("PodSecurityPolicy",),
        21,
        25,
        "no replacement API: Pod Security Admission (namespace labels) or a policy engine",
    ),
    _d("node.k8s.io/v1beta1", ("RuntimeClass",), 22, 25, "node.k8s.io/v1"),
    # removed in v1.26
    _d(
        "flowcontrol.apiserver.k8s.io/v1beta1",
        _FLOW_CONTROL,
        23,
        26,
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    _d("autoscaling/v2beta2", ("HorizontalPodAutoscaler",), 23, 26, "autoscaling/v2"),
    # removed in v1.27
    _d("storage.k8s.io/v1beta1", ("CSIStorageCapacity",), 24, 27, "storage.k8s.io/v1"),
    # removed in v1.29 and v1.32
    _d(
        "flowcontrol.apiserver.k8s.io/v1beta2",
        _FLOW_CONTROL,
        26,
        29,
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    _d(
        "flowcontrol.apiserver.k8s.io/v1beta3",
        _FLOW_CONTROL,
        29,
        32,
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    # dynamic resource allocation: alphas replaced outright, then betas deprecated by v1
    _d("resource.k8s.io/v1alpha1", (*_CLASSIC_DRA, "PodScheduling"), 27, 27, "resource.k8s.io/v1"),
    _d(
        "resource.k8s.io/v1alpha2",
        (
            *_CLASSIC_DRA,
            "PodSchedulingContext",
            "ResourceSlice",
            "ResourceClaimParameters",
            "ResourceClassParameters",
        ),
        31,
        31,
        "resource.k8s.io/v1 (structured parameters)",
    ),
    _d("resource.k8s.io/v1alpha3", (*_DRA, "PodSchedulingContext"), 32, 33, "resource.k8s.io/v1"),
    _d("resource.k8s.io/v1alpha3", ("DeviceTaintRule",), 36, None, "resource.k8s.io/v1"),
    _d("resource.k8s.io/v1beta1", _DRA, 33, None, "resource.k8s.io/v1"),
    _d("resource.k8s.io/v1beta2", (*_DRA, "DeviceTaintRule"), 34, None, "resource.k8s.io/v1"),
)


_BY_VERSION_AND_KIND: dict[tuple[str, str], ApiDeprecation] = {
    (entry.group_version, kind): entry for entry in API_DEPRECATIONS for kind in entry.kinds
}
DEPRECATED_KINDS = frozenset(kind for entry in API_DEPRECATIONS for kind in entry.kinds)
"""Kinds that were ever served at a deprecated version; no other kind can have one."""


def api_deprecation(group_version: str, kind: str) -> ApiDeprecation | None:
    """The table's entry for ``kind`` served at ``group_version``, if any."""
    return _BY_VERSION_AND_KIND.get((group_version, kind))


@dataclass(frozen=True, slots=True)
class FieldDeprecation:
    """A pod-spec field or annotation that was deprecated (and maybe stopped working)."""

    what: str
    deprecated_in: int | None
    """``None``: deprecated since before the releases this table tracks."""
    removed_in: int | None
    replacement: str


SERVICE_ACCOUNT_FIELD = FieldDeprecation(
    "spec.serviceAccount", None, None, "spec.serviceAccountName (of which it is an alias)"
)
GIT_REPO_VOLUME = FieldDeprecation(
    "gitRepo volume",
    11,
    33,
    "an init container that clones the repository into an emptyDir (the in-tree driver is "
    "disabled by default from v1.33 and cannot be enabled from v1.36)",
)
SECCOMP_ANNOTATIONS = FieldDeprecation(
    "seccomp annotations (seccomp.security.alpha.kubernetes.io/*)",
    19,
    27,
    "securityContext.seccompProfile (the annotations have no effect of their own since v1.27)",
)
APPARMOR_ANNOTATIONS = FieldDeprecation(
    "AppArmor annotations (container.apparmor.security.beta.kubernetes.io/*)",
    30,
    None,
    "securityContext.appArmorProfile",
)
SECCOMP_PREFIXES = ("seccomp.security.alpha.kubernetes.io/", "container.seccomp.security.alpha")
APPARMOR_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
