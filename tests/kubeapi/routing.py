"""Turn an API path into the resource, namespace, name and subresource it addresses.

Resource URLs have the shapes
    /api/v1[/namespaces/<ns>]/<plural>[/<name>[/<subresource>]]
    /apis/<group>/<version>[/namespaces/<ns>]/<plural>[/<name>[/<subresource>]]
plus the legacy `/watch/` segment after the version. Anything that does not resolve to a
served resource is a 404 with the API server's "could not find the requested resource".
"""

from __future__ import annotations

from dataclasses import dataclass

from .resources import ResourceRegistry, ResourceType
from .status import ApiError


@dataclass(frozen=True)
class ResourcePath:
    resource: ResourceType
    namespace: str | None  # None for cluster-scoped resources and all-namespace lists
    name: str | None  # None for collection requests
    subresource: str | None
    legacy_watch: bool = False


def unknown_path() -> ApiError:
    return ApiError(404, "the server could not find the requested resource")


def parse_resource_path(
    registry: ResourceRegistry, group: str, version: str, rest: list[str]
) -> ResourcePath:
    """`rest` is the path after /api/v1 or /apis/<group>/<version>, split on '/'."""
    legacy_watch = bool(rest) and rest[0] == "watch"
    if legacy_watch:
        rest = rest[1:]
    if not rest:
        raise unknown_path()
    namespace: str | None = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        scoped = registry.lookup(group, version, rest[2])
        if scoped is not None and scoped.namespaced:
            resource, namespace, tail = scoped, rest[1], rest[3:]
        else:
            # /api/v1/namespaces/<name>/status: a subresource of the namespace itself.
            found = registry.lookup(group, version, "namespaces")
            if found is None:
                raise unknown_path()
            resource, tail = found, rest[1:]
    else:
        found = registry.lookup(group, version, rest[0])
        if found is None:
            raise unknown_path()
        resource, tail = found, rest[1:]
        if resource.namespaced and tail:
            # Namespaced objects are only addressable under /namespaces/<ns>/.
            raise unknown_path()
    if len(tail) > 2 or any(not part for part in tail):
        raise unknown_path()
    name = tail[0] if tail else None
    subresource = tail[1] if len(tail) == 2 else None
    if subresource is not None and subresource not in resource.subresources:
        raise unknown_path()
    if legacy_watch and (subresource is not None):
        raise unknown_path()
    return ResourcePath(resource, namespace, name, subresource, legacy_watch)
