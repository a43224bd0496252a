"""What the client returns: objects as decoded JSON, and small typed wrappers around them.

Objects stay plain dicts (:data:`KubeObject`): building the official client's model classes
for thousands of pods costs several times the decoding itself and blocks the event loop.
Lists, watch events, discovery and ``/version`` get frozen dataclasses.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

KubeObject = dict[str, Any]
"""A Kubernetes object as decoded from JSON."""


def meta(obj: Mapping[str, Any]) -> dict[str, Any]:
    """``obj.metadata`` (an empty dict when absent or not an object)."""
    value = obj.get("metadata")
    return value if isinstance(value, dict) else {}


def resource_version(obj: Mapping[str, Any]) -> str:
    return str(meta(obj).get("resourceVersion") or "")


@dataclass(frozen=True, slots=True)
class ObjectList:
    """Every item of a list, and the list's resourceVersion (where a watch resumes)."""

    items: list[KubeObject]
    resource_version: str


class EventType(enum.StrEnum):
    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"
    BOOKMARK = "BOOKMARK"


@dataclass(frozen=True, slots=True)
class WatchEvent:
    type: EventType
    object: KubeObject

    @property
    def resource_version(self) -> str:
        return resource_version(self.object)


@dataclass(frozen=True, slots=True)
class ServerVersion:
    """``GET /version``: the API server's build."""

    major: str
    minor: str
    git_version: str
    platform: str

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> ServerVersion:
        return cls(
            major=str(body.get("major") or ""),
            minor=str(body.get("minor") or ""),
            git_version=str(body.get("gitVersion") or ""),
            platform=str(body.get("platform") or ""),
        )


@dataclass(frozen=True, slots=True)
class Discovery:
    """What ``/api`` and ``/apis`` say the cluster serves (the core group is ``""``)."""

    groups: frozenset[str]
    group_versions: frozenset[str]

    @classmethod
    def of(cls, core: Mapping[str, Any], apis: Mapping[str, Any]) -> Discovery:
        versions = core.get("versions")
        group_versions = {v for v in _list(versions) if isinstance(v, str)}
        groups = {""}
        for group in _list(apis.get("groups")):
            if not isinstance(group, Mapping):
                continue
            groups.add(str(group.get("name") or ""))
            for version in _list(group.get("versions")):
                if isinstance(version, Mapping) and version.get("groupVersion"):
                    group_versions.add(str(version["groupVersion"]))
        return cls(frozenset(groups), frozenset(group_versions))

    def serves(self, group_or_version: str) -> bool:
        return self.missing(group_or_version) is None

    def missing(self, group_or_version: str) -> str | None:
        """What is absent for ``group`` or ``group/version`` (the group, or the group
        version), or None when it is served. ``v1`` alone names the core group version."""
        group, _, version = group_or_version.rpartition("/")
        if not group and group_or_version in self.group_versions:
            return None
        if not group:
            group, version = group_or_version, ""
        if group not in self.groups:
            return group
        if version and group_or_version not in self.group_versions:
            return group_or_version
        return None


def _list(value: object) -> Iterable[Any]:
    return value if isinstance(value, list) else ()
