"""Rule helpers: the common shapes of a check, so a field check is its definition plus a rule.

::

    @per_container(SEC_001)
    def privileged(workload: Workload, container: Container, ctx: Context[NoParams]) -> Verdict:
        if container.security_context.get("privileged") is True:
            return fail("securityContext.privileged is true")
        return ok("not privileged")

* :func:`per_container` calls the rule once per container of each top-level workload (init
  and ephemeral containers included unless ``containers`` narrows it);
* :func:`per_workload` once per top-level workload (a Pod or ReplicaSet whose controller is
  in the inventory is reported through that controller);
* :func:`per_object` once per object of the given kinds.

Each leaves out the subjects its definition's ``applies_to`` rejects, and turns the rule's
:class:`~.definition.Verdict` into a finding about the object (and container). Multi-object
checks stay plain functions (:func:`~.definition.check`) over the inventory's indexes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from assay.server.checks.kit.definition import Check, CheckDefinition, Context, Finding, Verdict
from assay.server.checks.kit.walk import top_level
from assay.server.core.types import ObjectRef
from assay.server.inventory.model import Inventory
from assay.server.inventory.raw import KubeObject, name_of, namespace_of
from assay.server.inventory.workloads import Container, ContainerKind, Workload

ContainerRule = Callable[[Workload, Container, Context[Any]], Verdict]
WorkloadRule = Callable[[Workload, Context[Any]], Verdict]
ObjectRule = Callable[[KubeObject, Context[Any]], Verdict]


@dataclass(frozen=True, slots=True)
class Containers:
    """Which containers of a pod a container rule looks at, and how the docs say it."""

    description: str
    test: Callable[[Container], bool]

    def __call__(self, container: Container) -> bool:
        return self.test(container)


ALL_CONTAINERS = Containers("every container, init and ephemeral container", lambda c: True)
RESOURCE_CONTAINERS = Containers(
    "containers and init containers (ephemeral containers cannot declare resources)",
    lambda c: c.kind is not ContainerKind.EPHEMERAL,
)
RUNNING_CONTAINERS = Containers(
    "containers and sidecar containers (init containers with restartPolicy: Always)",
    lambda c: c.kind is ContainerKind.CONTAINER or c.is_sidecar,
)
REGULAR_CONTAINERS = Containers(
    "regular containers only", lambda c: c.kind is ContainerKind.CONTAINER
)


def per_container(
    definition: CheckDefinition, *, containers: Containers = ALL_CONTAINERS
) -> Callable[[ContainerRule], Check]:
    """A check that judges each selected container of each workload the check applies to."""

    def bind(rule: ContainerRule) -> Check:
        applies = definition.applies_to

        def run(ctx: Context[Any]) -> Iterator[Finding]:
            for workload in ctx.inventory.workloads():
                if not applies.applies(workload, ctx):
                    continue
                ref = workload.ref
                for container in workload.containers():
                    if containers(container):
                        yield rule(workload, container, ctx).about(ref, container.name)

        return Check(definition, run, shape=f"container:{containers.description}")

    return bind


def per_workload(definition: CheckDefinition) -> Callable[[WorkloadRule], Check]:
    """A check that judges each top-level workload the check applies to."""

    def bind(rule: WorkloadRule) -> Check:
        applies = definition.applies_to

        def run(ctx: Context[Any]) -> Iterator[Finding]:
            for workload in ctx.inventory.workloads():
                if applies.applies(workload, ctx):
                    yield rule(workload, ctx).about(workload.ref)

        return Check(definition, run, shape="workload")

    return bind


def per_object(
    definition: CheckDefinition,
    *,
    kinds: tuple[str, ...] | None = None,
    every_kind: bool = False,
    include_owned: bool = False,
) -> Callable[[ObjectRule], Check]:
    """A check that judges each object of ``kinds`` (default: the definition's kinds), or of
    every kind in the inventory with ``every_kind``.

    Objects whose controller (ownerReference) is also in the inventory are left to that
    controller unless ``include_owned``.
    """
    wanted = definition.kinds if kinds is None else kinds

    def bind(rule: ObjectRule) -> Check:
        applies = definition.applies_to

        def run(ctx: Context[Any]) -> Iterator[Finding]:
            inventory = ctx.inventory
            for kind in inventory.kinds() if every_kind else wanted:
                for obj, ref in subjects(inventory, kind, include_owned=include_owned):
                    if applies.applies(obj, ctx):
                        yield rule(obj, ctx).about(ref)

        return Check(definition, run, shape="object")

    return bind


def subjects(
    inventory: Inventory, kind: str, *, include_owned: bool = False
) -> Sequence[tuple[KubeObject, ObjectRef]]:
    """The objects of ``kind`` with their references (without those whose controller is in
    the inventory unless ``include_owned``): listed once per inventory and shared by every
    object check of the run, which would otherwise each decide ownership and build the same
    reference for every object."""

    def build() -> tuple[tuple[KubeObject, ObjectRef], ...]:
        objects = inventory.objects(kind) if include_owned else top_level(inventory, kind)
        return tuple((obj, ref_of(kind, obj)) for obj in objects)

    return inventory.memo(f"kit:subjects:{kind}:{include_owned}", build)


def ref_of(kind: str, obj: KubeObject) -> ObjectRef:
    """The reference a result about ``obj`` (of ``kind``) carries."""
    return ObjectRef(kind, name_of(obj), namespace_of(obj))
