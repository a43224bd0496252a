"""The inventory: a read-only snapshot of cluster objects that every check reads.

Built once per run by :mod:`~assay.server.inventory.manifests` or
:mod:`~assay.server.inventory.live` (or :meth:`Inventory.from_objects` in tests), then only
read, possibly by several checks at once. Objects stay plain dicts, indexed by kind,
namespace and name; workloads, label indexes and reference maps are derived lazily, once,
so cross-object checks look things up instead of scanning every object per object.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeAlias, TypeVar, cast

from assay.server.core.types import Source
from assay.server.inventory.kinds import CLUSTER_SCOPED_KINDS, WORKLOAD_KINDS
from assay.server.inventory.provenance import Diagnostic as Diagnostic
from assay.server.inventory.provenance import Origin
from assay.server.inventory.raw import (
    KubeObject,
    dig,
    kind_of,
    labels_of,
    name_of,
    namespace_of,
)
from assay.server.inventory.selectors import LabelIndex, Selector, SelectorIndex
from assay.server.inventory.workloads import (
    Workload,
    controller_owner,
    workload_of,
)

T = TypeVar("T")

DEFAULT_NAMESPACE = "default"

ObjectKey: TypeAlias = tuple[str, str, str]
"""(kind, namespace, name) of an indexed object; namespace ``""`` when cluster-scoped."""

# Kinds that select pods, and how to read their selector.
_POD_SELECTORS: dict[str, Callable[[KubeObject], Selector]] = {
    "PodDisruptionBudget": lambda o: Selector.from_label_selector(dig(o, "spec").get("selector")),
    # podSelector is required by the API; a policy without one selects every pod ({}).
    "NetworkPolicy": lambda o: Selector.from_label_selector(dig(o, "spec").get("podSelector", {})),
    "Service": lambda o: Selector.from_map(dig(o, "spec").get("selector")),
}


def cluster_scoped_kinds(objects: Iterable[KubeObject]) -> frozenset[str]:
    """The built-in cluster-scoped kinds plus those declared ``Cluster`` by CRDs in ``objects``."""
    declared = {
        str(dig(o, "spec", "names").get("kind"))
        for o in objects
        if kind_of(o) == "CustomResourceDefinition" and dig(o, "spec").get("scope") == "Cluster"
    }
    return CLUSTER_SCOPED_KINDS | declared


def index_namespace(obj: dict[str, Any], cluster_scoped: frozenset[str]) -> str:
    """The namespace ``obj`` is indexed under: ``""`` for cluster-scoped kinds, and
    ``default`` (written into the object) for a namespaced object that names none."""
    if kind_of(obj) in cluster_scoped:
        return ""
    namespace = namespace_of(obj)
    if not namespace:
        namespace = DEFAULT_NAMESPACE
        meta = obj.get("metadata")
        if isinstance(meta, dict):
            meta["namespace"] = namespace
    return namespace


class Inventory:
    """A read-only snapshot of cluster objects from one source.

    Treat every returned object as immutable: the inventory is shared by concurrent checks.
    """

    def __init__(
        self,
        index: Mapping[str, Mapping[str, Mapping[str, KubeObject]]],
        *,
        source: Source,
        missing_groups: frozenset[str] = frozenset(),
        diagnostics: tuple[Diagnostic, ...] = (),
        server_version: str | None = None,
        origins: Mapping[ObjectKey, Origin] | None = None,
    ) -> None:
        """Prefer :meth:`from_objects`; ``index`` is kind -> namespace -> name -> object.

        ``server_version`` is the live API server's ``gitVersion`` (``v1.31.2``); ``None``
        for manifests. ``origins`` says where each object was read from (manifests only)."""
        self._index = index
        self.source = source
        self.missing_groups = missing_groups
        self.diagnostics = diagnostics
        self.server_version = server_version
        self._origins: Mapping[ObjectKey, Origin] = origins or {}
        self._lists: dict[str, tuple[KubeObject, ...]] = {
            kind: tuple(o for by_name in by_ns.values() for o in by_name.values())
            for kind, by_ns in index.items()
        }
        self._lock = threading.RLock()
        self._cache: dict[str, object] = {}

    @classmethod
    def from_objects(
        cls,
        objects: Iterable[Mapping[str, Any]],
        *,
        source: Source = Source.MANIFESTS,
        missing_groups: Iterable[str] = (),
        diagnostics: Iterable[Diagnostic] = (),
        server_version: str | None = None,
        origins: Mapping[ObjectKey, Origin] | None = None,
    ) -> Inventory:
        """Index ``objects`` (which the inventory now owns). Objects without ``kind`` or
        ``metadata.name`` are ignored; for a repeated kind/namespace/name the last one wins.
        Namespaced objects without a namespace are put in ``default``."""
        items = [o if isinstance(o, dict) else dict(o) for o in objects]
        scoped = cluster_scoped_kinds(items)
        staging: dict[str, dict[str, dict[str, KubeObject]]] = defaultdict(
            lambda: defaultdict(dict)
        )
        for obj in items:
            kind, name = kind_of(obj), name_of(obj)
            if kind and name:
                staging[kind][index_namespace(obj, scoped)][name] = obj
        index = {
            kind: {ns: dict(sorted(by_name.items())) for ns, by_name in sorted(by_ns.items())}
            for kind, by_ns in sorted(staging.items())
        }
        return cls(
            index,
            source=source,
            missing_groups=frozenset(missing_groups),
            diagnostics=tuple(diagnostics),
            server_version=server_version,
            origins=origins,
        )

    # -- plain lookups -----------------------------------------------------------------

    def __len__(self) -> int:
        return sum(len(objs) for objs in self._lists.values())

    def kinds(self) -> tuple[str, ...]:
        """Kinds that have at least one object, sorted."""
        return tuple(self._lists)

    def objects(self, kind: str, namespace: str | None = None) -> Sequence[KubeObject]:
        """Objects of ``kind`` (in ``namespace`` if given), sorted by namespace then name."""
        if namespace is None:
            return self._lists.get(kind, ())
        return tuple(self._index.get(kind, {}).get(namespace, {}).values())

    def namespaces_of(self, kind: str) -> tuple[str, ...]:
        """Namespaces holding objects of ``kind``, sorted; ``("",)`` for a cluster-scoped kind."""
        return tuple(self._index.get(kind, {}))

    def get(self, kind: str, namespace: str, name: str) -> KubeObject | None:
        """One object; ``namespace`` is ``""`` for cluster-scoped kinds."""
        return self._index.get(kind, {}).get(namespace, {}).get(name)

    def origin(self, kind: str, namespace: str, name: str) -> Origin | None:
        """The file, document and line an object was read from (``None`` for a live
        inventory or an object given directly); ``namespace`` as for :meth:`get`."""
        return self._origins.get((kind, namespace, name))

    @property
    def has_origins(self) -> bool:
        """The inventory knows where (some of) its objects were read from."""
        return bool(self._origins)

    def namespaces(self) -> tuple[str, ...]:
        """Namespaces that exist as objects or hold objects, sorted."""
        return self.memo("namespaces", self._compute_namespaces)

    def has_api(self, group: str) -> bool:
        """False when the live cluster lacks ``group`` (a group or ``group/version``)."""
        return group not in self.missing_groups and group.split("/")[0] not in self.missing_groups

    def is_owned(self, obj: KubeObject) -> bool:
        """True when ``obj``'s controller (ownerReference) is itself in the inventory, as for
        a Deployment's ReplicaSets and their Pods on a live cluster. Decided once per object
        of the inventory (every per-object check asks it of every object)."""
        return self.per_object("owned", self._owned, obj)

    def _owned(self, obj: KubeObject) -> bool:
        owner = controller_owner(obj)
        if owner is None:
            return False
        kind, name = str(owner.get("kind") or ""), str(owner.get("name") or "")
        return (
            self.get(kind, namespace_of(obj), name) is not None
            or self.get(kind, "", name) is not None
        )

    # -- workloads ----------------------------------------------------------------------

    def workloads(
        self, namespace: str | None = None, *, include_owned: bool = False
    ) -> Sequence[Workload]:
        """Workloads of every kind (sorted by kind, namespace, name).

        By default only top-level ones: a ReplicaSet or Pod whose controller is also in the
        inventory is reported through that controller, so one problem yields one result.
        """
        key = "workloads_all" if include_owned else "workloads_top"
        every = self.memo(key, lambda: self._compute_workloads(include_owned))
        if namespace is None:
            return every
        return tuple(w for w in every if w.namespace == namespace)

    def workload(self, kind: str, namespace: str, name: str) -> Workload | None:
        """The workload view of one object (``None`` when absent or not a workload kind),
        built once per inventory and shared by every check."""
        return self.memo("workload_views", self._compute_workload_views).get(
            (kind, namespace, name)
        )

    def workloads_selected(self, namespace: str, selector: Selector) -> list[Workload]:
        """Top-level workloads in ``namespace`` whose pod-template labels ``selector`` matches."""
        index = self.memo(
            "template_index",
            lambda: LabelIndex((w.namespace, w.labels, w) for w in self.workloads()),
        )
        return index.select(namespace, selector)

    def pods_selected(self, namespace: str, selector: Selector) -> list[KubeObject]:
        """Pod objects in ``namespace`` whose labels ``selector`` matches."""
        index = self.memo(
            "pod_index",
            lambda: LabelIndex((namespace_of(p), labels_of(p), p) for p in self.objects("Pod")),
        )
        return index.select(namespace, selector)

    # -- reverse lookups: who selects / targets / references this -------------------------

    def selecting(self, kind: str, namespace: str, labels: Mapping[str, str]) -> list[KubeObject]:
        """Objects of ``kind`` (PodDisruptionBudget, NetworkPolicy or Service) in
        ``namespace`` whose pod selector matches ``labels``."""
        read_selector = _POD_SELECTORS.get(kind)
        if read_selector is None:
            raise ValueError(f"{kind} does not select pods (known: {sorted(_POD_SELECTORS)})")
        index = self.memo(
            f"selecting:{kind}",
            lambda: SelectorIndex(
                (namespace_of(o), read_selector(o), o) for o in self.objects(kind)
            ),
        )
        return index.selecting(namespace, labels)

    def pdbs_selecting(self, namespace: str, labels: Mapping[str, str]) -> list[KubeObject]:
        return self.selecting("PodDisruptionBudget", namespace, labels)

    def scalers_targeting(self, kind: str, namespace: str, name: str) -> list[KubeObject]:
        """HorizontalPodAutoscalers and KEDA ScaledObjects whose ``scaleTargetRef`` names
        the ``kind``/``name`` object in ``namespace``."""
        index = self.memo("scale_targets", self._compute_scale_targets)
        return index.get((namespace, kind, name), [])

    # -- internals -------------------------------------------------------------------------

    def memo(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()``, once per inventory and ``key``, shared by every check of the run.

        For indexes derived from the objects (who references which Secret, which roles a
        subject is bound to): checks compute them once through here instead of scanning per
        object. Keys are namespaced by their owner (``"kit:..."``, ``"security:..."``).
        """
        try:
            return cast(T, self._cache[key])
        except KeyError:
            pass
        with self._lock:
            if key not in self._cache:
                self._cache[key] = compute()
            return cast(T, self._cache[key])

    def release(self) -> None:
        """Drop every index :meth:`memo` holds (a later call computes it again).

        Indexes may refer back to the inventory, a cycle that only a collection walking every
        object of the inventory could free. The runner releases them once a run's checks are
        done, so reference counting frees the inventory as soon as the run lets go of it.
        """
        with self._lock:
            self._cache.clear()

    def per_object(self, key: str, decide: Callable[[KubeObject], T], obj: KubeObject) -> T:
        """``decide(obj)``, decided for every object of the inventory at the first call for
        ``key`` and looked up afterwards (by identity: the inventory keeps its objects alive,
        so their ids stay theirs); for an object that is not the inventory's, decided now.

        For a property of one object that many checks ask of every object (is it owned, did
        Kubernetes create it); keys are namespaced like :meth:`memo`'s.
        """
        verdicts = self.memo(
            key, lambda: {id(o): (o, decide(o)) for objs in self._lists.values() for o in objs}
        )
        known = verdicts.get(id(obj))
        if known is not None and known[0] is obj:
            return known[1]
        return decide(obj)

    def _compute_namespaces(self) -> tuple[str, ...]:
        names = {name_of(o) for o in self.objects("Namespace")}
        for by_ns in self._index.values():
            names.update(ns for ns in by_ns if ns)
        return tuple(sorted(names))

    def _compute_workload_views(self) -> dict[ObjectKey, Workload]:
        views: dict[ObjectKey, Workload] = {}
        for kind in WORKLOAD_KINDS:
            for namespace, by_name in self._index.get(kind, {}).items():
                for name, obj in by_name.items():
                    workload = workload_of(obj)
                    if workload is not None:
                        views[(kind, namespace, name)] = workload
        return views

    def _compute_workloads(self, include_owned: bool) -> tuple[Workload, ...]:
        views = self.memo("workload_views", self._compute_workload_views)
        return tuple(
            workload
            for workload in views.values()
            if include_owned or not self.is_owned(workload.obj)
        )

    def _compute_scale_targets(self) -> dict[tuple[str, str, str], list[KubeObject]]:
        targets: dict[tuple[str, str, str], list[KubeObject]] = defaultdict(list)
        scalers = (("HorizontalPodAutoscaler", ""), ("ScaledObject", "Deployment"))
        for kind, default_target in scalers:
            for scaler in self.objects(kind):
                ref = dig(scaler, "spec", "scaleTargetRef")
                target_kind = str(ref.get("kind") or default_target)
                target_name = str(ref.get("name") or "")
                targets[(namespace_of(scaler), target_kind, target_name)].append(scaler)
        return dict(targets)
