"""Pod-spec readings shared by several checks: effective security settings and resource
requests. Pure functions over raw objects; called by the pillar modules.
"""

from __future__ import annotations

from decimal import Decimal

from assay.server.checks.kit.quantity import quantity_or_none
from assay.server.inventory.raw import KubeObject, dig
from assay.server.inventory.workloads import Container, ContainerKind, containers

RESOURCES = ("cpu", "memory")
_WITH_RESOURCES = frozenset({ContainerKind.CONTAINER, ContainerKind.INIT})
"""Ephemeral containers cannot declare resources."""
LIMIT_AS_REQUEST_NOTE = (
    "A container with a limit but no request counts as requesting its limit: the API server "
    "defaults the request to the limit."
)

_UNSET = object()


def effective_security(pod_spec: KubeObject, container: Container, *path: str) -> object:
    """The container's ``securityContext`` setting at ``path``, else the pod's (the pod level
    is the default that a container-level value overrides); ``None`` when neither sets it."""
    *parents, leaf = path
    for context in (container.security_context, dig(pod_spec, "securityContext")):
        value = dig(context, *parents).get(leaf, _UNSET)
        if value is not _UNSET and value is not None:
            return value
    return None


def is_windows(pod_spec: KubeObject) -> bool:
    """A Windows pod: ``spec.os.name: windows``, or (before that field existed, and still
    common) a ``kubernetes.io/os: windows`` node selector."""
    if dig(pod_spec, "os").get("name") == "windows":
        return True
    return dig(pod_spec, "nodeSelector").get("kubernetes.io/os") == "windows"


def request(container: Container, resource: str) -> Decimal | None:
    """The container's request for ``resource``; a limit alone implies an equal request
    (the API server defaults it), so it counts. ``None`` when neither is set or valid."""
    resources = dig(container.spec, "resources")
    value = quantity_or_none(dig(resources, "requests").get(resource))
    if value is None:
        value = quantity_or_none(dig(resources, "limits").get(resource))
    return value


def missing_requests(container: Container, wanted: tuple[str, ...] = RESOURCES) -> list[str]:
    return [r for r in wanted if request(container, r) is None]


def pod_request(pod_spec: KubeObject, resource: str) -> Decimal:
    """What the scheduler reserves for a pod: the larger of (regular containers + sidecars)
    and any single init container, plus the pod overhead."""
    running = Decimal(0)
    largest_init = Decimal(0)
    for container in containers(pod_spec, _WITH_RESOURCES):
        amount = request(container, resource) or Decimal(0)
        if container.kind is ContainerKind.CONTAINER or container.is_sidecar:
            running += amount
        else:
            largest_init = max(largest_init, amount + running)
    overhead = quantity_or_none(dig(pod_spec, "overhead").get(resource)) or Decimal(0)
    return max(running, largest_init) + overhead


def format_cores(value: Decimal) -> str:
    return f"{value:.2f} cores"


def format_bytes(value: Decimal) -> str:
    return f"{value / 2**30:.1f} GiB"
