"""Resource types served by the test double: the built-in table and CRD registration.

`ResourceRegistry` answers "which resource does /apis/<group>/<version>/<plural> mean?"
for routing and discovery. It holds the built-in Kubernetes resources, resources declared
by CustomResourceDefinitions, and the set of groups switched off to simulate a missing API.
Readers run on the double's event loop while tests register CRDs from their own thread,
so the table is replaced wholesale on every change (copy-on-write) rather than mutated.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .jsonutil import JsonObject
from .schema import CustomResourceSchema, structural_errors
from .status import ApiError, ErrorType, FieldError, invalid, invalid_value, required

STANDARD_VERBS: tuple[str, ...] = (
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
)
SUBRESOURCE_VERBS: tuple[str, ...] = ("get", "patch", "update")
ALWAYS_FIELD_LABELS = frozenset({"metadata.name", "metadata.namespace"})

# How metadata.name is validated: most objects are DNS subdomains, a few are DNS labels,
# RBAC objects only need to be usable as a URL path segment (they contain ':').
NameRule = Literal["subdomain", "label", "path"]


@dataclass(frozen=True)
class ResourceType:
    """One served group/version/resource and the API-server behaviour attached to it."""

    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    # Only "status" has behaviour; it is listed in discovery as "<plural>/status".
    subresources: frozenset[str] = frozenset()
    verbs: tuple[str, ...] = STANDARD_VERBS
    # Field selectors accepted besides metadata.name / metadata.namespace.
    field_labels: frozenset[str] = frozenset()
    # Built-in list items carry no kind/apiVersion on the wire; custom resources do.
    builtin: bool = True
    # Registries such as pods answer a DELETE with the object, the rest with a Status.
    returns_deleted_object: bool = False
    name_rule: NameRule = "subdomain"
    list_kind: str = ""
    # What the server fills into .status on create (e.g. a Pod starts Pending).
    initial_status: Mapping[str, Any] | None = field(default=None, compare=False, hash=False)
    # Custom resources: the served version's schema, which prunes and validates writes.
    schema: CustomResourceSchema | None = field(default=None, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not self.list_kind:
            object.__setattr__(self, "list_kind", f"{self.kind}List")

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def storage_key(self) -> tuple[str, str]:
        """Versions of one resource share storage, as they share an etcd prefix."""
        return (self.group, self.plural)

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    def supports_field(self, label: str) -> bool:
        return label in ALWAYS_FIELD_LABELS or label in self.field_labels


def _core(
    plural: str, singular: str, kind: str, namespaced: bool = True, **kw: Any
) -> ResourceType:
    return ResourceType("", "v1", plural, singular, kind, namespaced, **kw)


def _grp(
    group: str, plural: str, singular: str, kind: str, namespaced: bool = True, **kw: Any
) -> ResourceType:
    version = kw.pop("version", "v1")
    return ResourceType(group, version, plural, singular, kind, namespaced, **kw)


_STATUS = frozenset({"status"})
_ALL = ("all",)
_POD_FIELDS = frozenset(
    {
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    }
)
_CORE_EVENT_FIELDS = frozenset(
    {
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    }
)
_EVENTS_V1_FIELDS = frozenset(
    {
        "regarding.kind",
        "regarding.namespace",
        "regarding.name",
        "regarding.uid",
        "reason",
        "reportingController",
        "type",
    }
)

BUILTIN_RESOURCES: tuple[ResourceType, ...] = (
    _core(
        "namespaces",
        "namespace",
        "Namespace",
        False,
        short_names=("ns",),
        subresources=_STATUS,
        name_rule="label",
        initial_status={"phase": "Active"},
        field_labels=frozenset({"status.phase"}),
    ),
    _core(
        "pods",
        "pod",
        "Pod",
        short_names=("po",),
        categories=_ALL,
        subresources=_STATUS,
        field_labels=_POD_FIELDS,
        returns_deleted_object=True,
        initial_status={"phase": "Pending"},
    ),
    _core(
        "services",
        "service",
        "Service",
        short_names=("svc",),
        categories=_ALL,
        subresources=_STATUS,
        returns_deleted_object=True,
        name_rule="label",
    ),
    _core("configmaps", "configmap", "ConfigMap", short_names=("cm",)),
    _core("secrets", "secret", "Secret", field_labels=frozenset({"type"})),
    _core(
        "serviceaccounts",
        "serviceaccount",
        "ServiceAccount",
        short_names=("sa",),
        returns_deleted_object=True,
    ),
    _core(
        "nodes",
        "node",
        "Node",
        False,
        short_names=("no",),
        subresources=_STATUS,
        field_labels=frozenset({"spec.unschedulable"}),
    ),
    _core("events", "event", "Event", short_names=("ev",), field_labels=_CORE_EVENT_FIELDS),
    _core(
        "persistentvolumeclaims",
        "persistentvolumeclaim",
        "PersistentVolumeClaim",
        short_names=("pvc",),
        subresources=_STATUS,
        returns_deleted_object=True,
    ),
    _core(
        "persistentvolumes",
        "persistentvolume",
        "PersistentVolume",
        False,
        short_names=("pv",),
        subresources=_STATUS,
        returns_deleted_object=True,
    ),
    _core("endpoints", "endpoints", "Endpoints", short_names=("ep",)),
    _core("limitranges", "limitrange", "LimitRange", short_names=("limits",)),
    _core(
        "resourcequotas",
        "resourcequota",
        "ResourceQuota",
        short_names=("quota",),
        subresources=_STATUS,
        returns_deleted_object=True,
    ),
    _core(
        "replicationcontrollers",
        "replicationcontroller",
        "ReplicationController",
        short_names=("rc",),
        categories=_ALL,
        subresources=_STATUS,
        field_labels=frozenset({"status.replicas"}),
    ),
    _grp(
        "apps",
        "deployments",
        "deployment",
        "Deployment",
        short_names=("deploy",),
        categories=_ALL,
        subresources=_STATUS,
    ),
    _grp(
        "apps",
        "statefulsets",
        "statefulset",
        "StatefulSet",
        short_names=("sts",),
        categories=_ALL,
        subresources=_STATUS,
    ),
    _grp(
        "apps",
        "daemonsets",
        "daemonset",
        "DaemonSet",
        short_names=("ds",),
        categories=_ALL,
        subresources=_STATUS,
    ),
    _grp(
        "apps",
        "replicasets",
        "replicaset",
        "ReplicaSet",
        short_names=("rs",),
        categories=_ALL,
        subresources=_STATUS,
        field_labels=frozenset({"status.replicas"}),
    ),
    _grp(
        "batch",
        "jobs",
        "job",
        "Job",
        categories=_ALL,
        subresources=_STATUS,
        field_labels=frozenset({"status.successful"}),
    ),
    _grp(
        "batch",
        "cronjobs",
        "cronjob",
        "CronJob",
        short_names=("cj",),
        categories=_ALL,
        subresources=_STATUS,
    ),
    _grp(
        "policy",
        "poddisruptionbudgets",
        "poddisruptionbudget",
        "PodDisruptionBudget",
        short_names=("pdb",),
        subresources=_STATUS,
    ),
    _grp(
        "autoscaling",
        "horizontalpodautoscalers",
        "horizontalpodautoscaler",
        "HorizontalPodAutoscaler",
        version="v2",
        short_names=("hpa",),
        categories=_ALL,
        subresources=_STATUS,
    ),
    _grp(
        "networking.k8s.io",
        "networkpolicies",
        "networkpolicy",
        "NetworkPolicy",
        short_names=("netpol",),
    ),
    _grp(
        "networking.k8s.io",
        "ingresses",
        "ingress",
        "Ingress",
        short_names=("ing",),
        subresources=_STATUS,
    ),
    _grp("rbac.authorization.k8s.io", "roles", "role", "Role", name_rule="path"),
    _grp(
        "rbac.authorization.k8s.io",
        "rolebindings",
        "rolebinding",
        "RoleBinding",
        name_rule="path",
    ),
    _grp(
        "rbac.authorization.k8s.io",
        "clusterroles",
        "clusterrole",
        "ClusterRole",
        False,
        name_rule="path",
    ),
    _grp(
        "rbac.authorization.k8s.io",
        "clusterrolebindings",
        "clusterrolebinding",
        "ClusterRoleBinding",
        False,
        name_rule="path",
    ),
    _grp("coordination.k8s.io", "leases", "lease", "Lease"),
    _grp(
        "events.k8s.io",
        "events",
        "event",
        "Event",
        short_names=("ev",),
        field_labels=_EVENTS_V1_FIELDS,
    ),
    _grp(
        "scheduling.k8s.io",
        "priorityclasses",
        "priorityclass",
        "PriorityClass",
        False,
        short_names=("pc",),
    ),
    _grp("discovery.k8s.io", "endpointslices", "endpointslice", "EndpointSlice"),
    # Create-only reviews, answered by `reviews.py` and never stored.
    _grp(
        "authentication.k8s.io",
        "tokenreviews",
        "tokenreview",
        "TokenReview",
        False,
        verbs=("create",),
    ),
    _grp(
        "authorization.k8s.io",
        "subjectaccessreviews",
        "subjectaccessreview",
        "SubjectAccessReview",
        False,
        verbs=("create",),
    ),
    _grp(
        "apiextensions.k8s.io",
        "customresourcedefinitions",
        "customresourcedefinition",
        "CustomResourceDefinition",
        False,
        short_names=("crd", "crds"),
        subresources=_STATUS,
    ),
)

CRD_GROUP = "apiextensions.k8s.io"
CRD_PLURAL = "customresourcedefinitions"

_KUBE_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Sort key giving the Kubernetes version order: v2 > v1 > v1beta2 > v1beta1 > v1alpha1,
    with names that are not Kubernetes versions last, alphabetically."""
    match = _KUBE_VERSION.match(version)
    if match is None:
        return (3, 0, 0, version)
    major, stage, minor = match.groups()
    stage_rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (stage_rank, -int(major), -int(minor or 0), version)


def crd_resource_types(crd: JsonObject) -> list[ResourceType]:
    """The resource types a CustomResourceDefinition (apiextensions.k8s.io/v1) serves.

    Raises ApiError 422 for the mistakes the real API server rejects at CRD creation,
    so a broken deploy/crds/*.yaml fails the test that loads it.
    """
    name = str(crd.get("metadata", {}).get("name", ""))
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        raise _crd_invalid(name, required("spec"))
    group = spec.get("group")
    names = spec.get("names") or {}
    plural, kind = names.get("plural"), names.get("kind")
    if not isinstance(group, str) or not group:
        raise _crd_invalid(name, required("spec.group"))
    if not isinstance(plural, str) or not plural or not isinstance(kind, str) or not kind:
        raise _crd_invalid(name, required("spec.names", "plural and kind are required"))
    if name != f"{plural}.{group}":
        raise _crd_invalid(
            name, invalid_value("metadata.name", name, 'must be spec.names.plural+"."+spec.group')
        )
    scope = spec.get("scope")
    if scope not in ("Namespaced", "Cluster"):
        raise _crd_invalid(
            name,
            FieldError(
                ErrorType.NOT_SUPPORTED,
                ("spec", "scope"),
                scope,
                'supported values: "Cluster", "Namespaced"',
            ),
        )
    versions = spec.get("versions") or []
    if not versions:
        raise _crd_invalid(
            name,
            invalid_value("spec.versions", [], "must have exactly one version marked as storage"),
        )
    types = []
    errors: list[FieldError] = []
    for index, version in enumerate(versions):
        if not version.get("served", False):
            continue
        subresources = version.get("subresources") or {}
        raw_schema = (version.get("schema") or {}).get("openAPIV3Schema")
        errors += structural_errors(
            raw_schema, ("spec", "versions", index, "schema", "openAPIV3Schema")
        )
        types.append(
            ResourceType(
                group=group,
                version=str(version["name"]),
                plural=plural,
                singular=str(names.get("singular") or kind.lower()),
                kind=kind,
                namespaced=scope == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=frozenset({"status"} if "status" in subresources else ()),
                builtin=False,
                list_kind=str(names.get("listKind") or f"{kind}List"),
                schema=CustomResourceSchema(raw_schema) if isinstance(raw_schema, dict) else None,
            )
        )
    if errors:
        raise _crd_invalid(name, *errors)
    return types


def _crd_invalid(name: str, *errors: FieldError) -> ApiError:
    return invalid("CustomResourceDefinition", CRD_GROUP, name, errors)


_Key = tuple[str, str, str]


class ResourceRegistry:
    """Thread-safe table of served resources keyed by (group, version, plural)."""

    def __init__(self, builtins: Iterable[ResourceType] = BUILTIN_RESOURCES) -> None:
        self._lock = threading.Lock()
        self._types: dict[_Key, ResourceType] = {}
        self._crd_owned: dict[str, tuple[_Key, ...]] = {}
        self._disabled: frozenset[str] = frozenset()
        for resource in builtins:
            self.register(resource)

    def register(self, resource: ResourceType) -> None:
        key = (resource.group, resource.version, resource.plural)
        with self._lock:
            self._types = {**self._types, key: resource}

    def register_crd(self, crd: JsonObject) -> list[ResourceType]:
        """Serve the CRD's versions, replacing what an earlier version of it served."""
        types = crd_resource_types(crd)
        crd_name = str(crd["metadata"]["name"])
        with self._lock:
            table = dict(self._types)
            for key in self._crd_owned.get(crd_name, ()):
                table.pop(key, None)
            keys = tuple((t.group, t.version, t.plural) for t in types)
            table.update(zip(keys, types, strict=True))
            self._types = table
            self._crd_owned = {**self._crd_owned, crd_name: keys}
        return types

    def unregister_crd(self, crd_name: str) -> list[ResourceType]:
        with self._lock:
            keys = self._crd_owned.get(crd_name, ())
            table = dict(self._types)
            removed = [table.pop(key) for key in keys if key in table]
            self._types = table
            self._crd_owned = {k: v for k, v in self._crd_owned.items() if k != crd_name}
        return removed

    def disable_group(self, group: str) -> None:
        with self._lock:
            self._disabled = self._disabled | {group}

    def enable_group(self, group: str) -> None:
        with self._lock:
            self._disabled = self._disabled - {group}

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        if group in self._disabled:
            return None
        return self._types.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        for resource in self._types.values():
            if (resource.group, resource.version, resource.kind) == (group, version, kind):
                return None if group in self._disabled else resource
        return None

    def resources(self, group: str, version: str) -> list[ResourceType]:
        if group in self._disabled:
            return []
        return [r for r in self._types.values() if (r.group, r.version) == (group, version)]

    def versions(self, group: str) -> list[str]:
        """Served versions of a group, preferred first."""
        if group in self._disabled:
            return []
        found = {r.version for r in self._types.values() if r.group == group}
        return sorted(found, key=version_priority)

    def groups(self) -> list[str]:
        """Named (non-core) groups in registration order, disabled ones left out."""
        seen: dict[str, None] = {}
        for resource in self._types.values():
            if resource.group and resource.group not in self._disabled:
                seen.setdefault(resource.group, None)
        return list(seen)
