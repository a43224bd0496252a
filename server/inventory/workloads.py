"""Workloads and their containers, seen the same way whatever their kind.

:func:`workload_of` turns a Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet,
ReplicationController, Job or CronJob into a :class:`Workload` that exposes the pod
template (metadata and spec); :func:`containers` lists a pod spec's containers, init
containers and ephemeral containers with their kind. Called by the inventory (which builds
the workload list once) and by checks.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from assay.server.core.types import ObjectRef
from assay.server.inventory.kinds import WORKLOAD_KINDS
from assay.server.inventory.raw import (
    KubeObject,
    annotations_of,
    as_mappings,
    dig,
    int_or_none,
    kind_of,
    labels_of,
    metadata,
    name_of,
    namespace_of,
    string_map,
)
from assay.server.inventory.selectors import NOTHING, Selector

_WORKLOAD_KINDS = frozenset(WORKLOAD_KINDS)
_REPLICATED_KINDS = frozenset({"Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"})
_BATCH_KINDS = frozenset({"Job", "CronJob"})


class ContainerKind(enum.StrEnum):
    CONTAINER = "container"
    INIT = "init"
    EPHEMERAL = "ephemeral"


@dataclass(frozen=True, slots=True)
class Container:
    """One entry of ``containers``, ``initContainers`` or ``ephemeralContainers``."""

    name: str
    kind: ContainerKind
    spec: KubeObject

    @property
    def is_sidecar(self) -> bool:
        """An init container with ``restartPolicy: Always`` runs for the pod's whole life."""
        return self.kind is ContainerKind.INIT and self.spec.get("restartPolicy") == "Always"

    @property
    def role(self) -> str:
        """How to name it in a message: ``container``, ``init container``, ``sidecar
        container`` or ``ephemeral container``."""
        if self.is_sidecar:
            return "sidecar container"
        if self.kind is ContainerKind.CONTAINER:
            return "container"
        return f"{self.kind} container"

    @property
    def security_context(self) -> KubeObject:
        return dig(self.spec, "securityContext")


_CONTAINER_FIELDS = (
    ("initContainers", ContainerKind.INIT),
    ("containers", ContainerKind.CONTAINER),
    ("ephemeralContainers", ContainerKind.EPHEMERAL),
)


def containers(
    pod_spec: KubeObject, kinds: frozenset[ContainerKind] | None = None
) -> Iterator[Container]:
    """The containers of ``pod_spec`` (init, then regular, then ephemeral), optionally
    restricted to ``kinds``."""
    for field_name, kind in _CONTAINER_FIELDS:
        if kinds is not None and kind not in kinds:
            continue
        for spec in as_mappings(pod_spec.get(field_name)):
            yield Container(str(spec.get("name") or ""), kind, spec)


@dataclass(frozen=True, slots=True)
class Workload:
    """A workload object and its pod template.

    ``template_metadata``/``pod_spec`` are the object's own metadata/spec for a Pod, the
    ``spec.template`` parts for controllers and ``spec.jobTemplate.spec.template`` for a
    CronJob. Its reference and containers are read once, when it is built: the inventory
    builds one view per object and every check of the run shares it.
    """

    kind: str
    namespace: str
    name: str
    obj: KubeObject
    template_metadata: KubeObject
    pod_spec: KubeObject
    ref: ObjectRef = field(init=False, compare=False, repr=False)
    _containers: tuple[Container, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ref", ObjectRef(self.kind, self.name, self.namespace))
        object.__setattr__(self, "_containers", tuple(containers(self.pod_spec)))

    @property
    def labels(self) -> dict[str, str]:
        """The pod labels: what Services, PDBs and NetworkPolicies select on."""
        return string_map(self.template_metadata.get("labels"))

    @property
    def template_annotations(self) -> dict[str, str]:
        return string_map(self.template_metadata.get("annotations"))

    @property
    def object_labels(self) -> dict[str, str]:
        return labels_of(self.obj)

    @property
    def object_annotations(self) -> dict[str, str]:
        return annotations_of(self.obj)

    @property
    def spec(self) -> KubeObject:
        return dig(self.obj, "spec")

    @property
    def replicas(self) -> int | None:
        """Desired replicas of a replicated controller (the API default 1 when unset);
        ``None`` for kinds without a replica count."""
        if self.kind not in _REPLICATED_KINDS:
            return None
        value = self.spec.get("replicas")
        if value is None:
            return 1
        return int_or_none(value) or 0

    @property
    def selector(self) -> Selector:
        """The controller's pod selector; a Pod selects nothing. Jobs (and CronJobs) without
        an explicit selector get a generated one, approximated by the template labels."""
        if self.kind == "Pod":
            return NOTHING
        if self.kind == "ReplicationController":
            raw = self.spec.get("selector")
            return Selector.from_map(raw if raw else self.labels)
        spec = dig(self.spec, "jobTemplate", "spec") if self.kind == "CronJob" else self.spec
        if self.kind in _BATCH_KINDS and not isinstance(spec.get("selector"), Mapping):
            return Selector.from_map(self.labels)
        return Selector.from_label_selector(spec.get("selector"))

    @property
    def is_batch(self) -> bool:
        """Runs to completion: a Job, a CronJob, or a Pod that is not restarted (or a Job's)."""
        if self.kind in _BATCH_KINDS:
            return True
        if self.kind == "Pod":
            if any(str(o.get("kind")) == "Job" for o in owner_references(self.obj)):
                return True
            return bool(self.pod_spec.get("restartPolicy", "Always") != "Always")
        return False

    def containers(self, kinds: frozenset[ContainerKind] | None = None) -> Iterator[Container]:
        """The containers of the pod template (init, regular, ephemeral), optionally only
        those of ``kinds``."""
        if kinds is None:
            return iter(self._containers)
        return (c for c in self._containers if c.kind in kinds)


def owner_references(obj: KubeObject) -> list[KubeObject]:
    return as_mappings(metadata(obj).get("ownerReferences"))


def controller_owner(obj: KubeObject) -> KubeObject | None:
    """The ownerReference marked ``controller: true``, if any."""
    for owner in owner_references(obj):
        if owner.get("controller") is True:
            return owner
    return None


def workload_of(obj: KubeObject) -> Workload | None:
    """The :class:`Workload` view of ``obj``, or ``None`` if it is not a workload kind."""
    kind = kind_of(obj)
    if kind not in _WORKLOAD_KINDS:
        return None
    if kind == "Pod":
        template_metadata, pod_spec = metadata(obj), dig(obj, "spec")
    elif kind == "CronJob":
        template = dig(obj, "spec", "jobTemplate", "spec", "template")
        template_metadata, pod_spec = dig(template, "metadata"), dig(template, "spec")
    else:
        template = dig(obj, "spec", "template")
        template_metadata, pod_spec = dig(template, "metadata"), dig(template, "spec")
    return Workload(kind, namespace_of(obj), name_of(obj), obj, template_metadata, pod_spec)
