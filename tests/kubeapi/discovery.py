"""Discovery documents: /version, /api, /api/v1, /apis, /apis/<group>[/<version>].

Shapes follow the legacy (non-aggregated) discovery API that the official Python client,
its dynamic client and `kubectl` fall back to. Disabled groups are absent everywhere,
which is how a missing API such as metrics.k8s.io looks on a real cluster.
"""

from __future__ import annotations

from .jsonutil import JsonObject
from .resources import SUBRESOURCE_VERBS, ResourceRegistry, ResourceType

DEFAULT_VERSION: JsonObject = {
    "major": "1",
    "minor": "31",
    "gitVersion": "v1.31.0-assay-double",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2024-08-13T00:00:00Z",
    "goVersion": "go1.22.5",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def api_versions(server_address: str) -> JsonObject:
    """GET /api"""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _group(registry: ResourceRegistry, group: str) -> JsonObject | None:
    versions = registry.versions(group)
    if not versions:
        return None
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": entries, "preferredVersion": entries[0]}


def api_group(registry: ResourceRegistry, group: str) -> JsonObject | None:
    """GET /apis/<group>, None when the group is not served."""
    found = _group(registry, group)
    return None if found is None else {"kind": "APIGroup", "apiVersion": "v1", **found}


def api_group_list(registry: ResourceRegistry) -> JsonObject:
    """GET /apis"""
    groups = [g for name in registry.groups() if (g := _group(registry, name)) is not None]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def _entries(resource: ResourceType) -> list[JsonObject]:
    main: JsonObject = {
        "name": resource.plural,
        "singularName": resource.singular,
        "namespaced": resource.namespaced,
        "kind": resource.kind,
        "verbs": list(resource.verbs),
    }
    if resource.short_names:
        main["shortNames"] = list(resource.short_names)
    if resource.categories:
        main["categories"] = list(resource.categories)
    subresources: list[JsonObject] = [
        {
            "name": f"{resource.plural}/{sub}",
            "singularName": "",
            "namespaced": resource.namespaced,
            "kind": resource.kind,
            "verbs": list(SUBRESOURCE_VERBS),
        }
        for sub in sorted(resource.subresources)
    ]
    return [main, *subresources]


def api_resource_list(registry: ResourceRegistry, group: str, version: str) -> JsonObject | None:
    """GET /api/v1 or /apis/<group>/<version>, None when not served."""
    resources = registry.resources(group, version)
    if not resources:
        return None
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": [entry for r in resources for entry in _entries(r)],
    }
