"""Fill an inventory from a live cluster with the official async client (``kubernetes.aio``).

Called by the runner for ``--source live`` runs::

    api = await api_client_from_config(context="prod")
    async with api:
        inventory = await load_live_inventory(api, kinds=registry_kinds, groups={"metrics.k8s.io"})

Discovery (``/api``, ``/apis``) comes first, so kinds whose API group or version the
cluster does not serve are skipped and recorded in ``missing_groups``. Every other kind is
listed across all namespaces, concurrently (a few at a time) and paginated (``limit`` +
``continue``), as raw JSON: the client's pydantic models are far too slow for big clusters
and would block the event loop while they build. Large pages are parsed in a worker thread.
A kind the service account may not list (403) becomes a diagnostic, not a failure.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp
from kubernetes.aio import client as k8s_client
from kubernetes.aio import config as k8s_config

from assay.server.core.types import Source
from assay.server.inventory.errors import ClusterUnavailable, KubeConfigError
from assay.server.inventory.kinds import KNOWN_RESOURCES, ResourceType
from assay.server.inventory.model import Diagnostic, Inventory

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 500
DEFAULT_CONCURRENCY = 4
THREAD_PARSE_BYTES = 512 * 1024
"""Response bodies at least this big are parsed off the event loop."""
REQUEST_TIMEOUT_S = 60.0

_NETWORK_ERRORS = (aiohttp.ClientError, OSError, asyncio.TimeoutError)

# The config loaders are untyped; calling them through Any keeps mypy strict elsewhere.
_load_kube_config: Any = k8s_config.load_kube_config
_load_incluster_config: Any = k8s_config.load_incluster_config


async def api_client_from_config(
    *, kubeconfig: str | None = None, context: str | None = None, in_cluster: bool | None = None
) -> Any:
    """A ``kubernetes.aio.client.ApiClient`` configured from a kubeconfig or in-cluster.

    ``in_cluster=None`` picks the kubeconfig when one is given or exists at the default
    location (``$KUBECONFIG`` or ``~/.kube/config``), else the pod's service account.
    The caller closes the client (``async with`` or ``await api.close()``).
    """
    configuration = k8s_client.Configuration()
    default_path, default_exists = _default_kubeconfig()
    use_file = not in_cluster and (kubeconfig is not None or in_cluster is False or default_exists)
    try:
        if use_file:
            await _load_kube_config(
                config_file=kubeconfig or default_path,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
        else:
            _load_incluster_config(client_configuration=configuration)
    except (k8s_config.ConfigException, OSError, ValueError, TypeError) as exc:
        where = f"kubeconfig {kubeconfig or default_path}" if use_file else "in-cluster config"
        context_note = f" (context {context!r})" if context else ""
        raise KubeConfigError(f"cannot load {where}{context_note}: {exc}") from exc
    return k8s_client.ApiClient(configuration)


def _default_kubeconfig() -> tuple[str, bool]:
    """The first ``$KUBECONFIG`` entry (or ``~/.kube/config``) and whether it exists."""
    path = os.path.expanduser(
        os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or "~/.kube/config"
    )
    return path, os.path.exists(path)


@dataclass(frozen=True, slots=True)
class _Served:
    """What discovery said the cluster serves, and its version (``/version`` gitVersion)."""

    groups: frozenset[str]
    group_versions: frozenset[str]
    version: str | None = None

    def missing(self, group_or_version: str) -> str | None:
        """The name to record as missing (group, or group/version), or None if served."""
        group, _, version = group_or_version.partition("/")
        if not version:
            return None if group in self.groups else group
        if group not in self.groups:
            return group
        return None if group_or_version in self.group_versions else group_or_version


async def load_live_inventory(
    api_client: Any,
    *,
    kinds: Iterable[str],
    groups: Iterable[str] = (),
    page_size: int = DEFAULT_PAGE_SIZE,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> Inventory:
    """List every kind in ``kinds`` (names from :data:`KNOWN_RESOURCES`) into an inventory.

    ``groups`` names further API groups (``metrics.k8s.io``) or group versions
    (``autoscaling/v2``) whose absence the checks care about; absent ones, and the groups of
    unserved kinds, end up in ``missing_groups``. Raises :class:`ClusterUnavailable` when
    discovery or a list request cannot reach the API server at all.
    """
    served = await _discover(api_client)
    diagnostics: list[Diagnostic] = []
    missing: set[str] = set()
    wanted: list[ResourceType] = []
    for kind in sorted(set(kinds)):
        resource = KNOWN_RESOURCES.get(kind)
        if resource is None:
            diagnostics.append(Diagnostic(kind, "unknown kind: not listed from the cluster"))
            continue
        absent = served.missing(resource.group_version) if resource.group else None
        if absent:
            missing.add(absent)
        else:
            wanted.append(resource)
    missing.update(m for m in (served.missing(g) for g in groups) if m)

    gate = asyncio.Semaphore(max(1, concurrency))

    async def guarded(resource: ResourceType) -> list[dict[str, Any]]:
        async with gate:
            return await _list_all(api_client, resource, page_size, diagnostics)

    pages = await asyncio.gather(*(guarded(r) for r in wanted))
    objects = [obj for page in pages for obj in page]
    log.info(
        "live inventory: %d objects of %d kinds; missing groups %s; %d diagnostics",
        len(objects),
        len(wanted),
        sorted(missing) or "none",
        len(diagnostics),
    )
    return await asyncio.to_thread(
        Inventory.from_objects,
        objects,
        source=Source.LIVE,
        missing_groups=missing,
        diagnostics=sorted(diagnostics, key=lambda d: (d.path, d.message)),
        server_version=served.version,
    )


async def _discover(api_client: Any) -> _Served:
    core = await _get_json(api_client, "/api", {})
    apis = await _get_json(api_client, "/apis", {})
    group_versions = {str(v) for v in core.get("versions", []) if isinstance(v, str)}
    group_names = {""}
    for group in apis.get("groups", []):
        if not isinstance(group, dict):
            continue
        group_names.add(str(group.get("name", "")))
        for version in group.get("versions", []):
            if isinstance(version, dict) and version.get("groupVersion"):
                group_versions.add(str(version["groupVersion"]))
    version = (await _get_json(api_client, "/version", {})).get("gitVersion")
    return _Served(
        frozenset(group_names),
        frozenset(group_versions),
        version if isinstance(version, str) and version else None,
    )


async def _get_json(api_client: Any, path: str, query: dict[str, str | int]) -> dict[str, Any]:
    """GET ``path`` and parse it; any failure means the cluster is unusable."""
    status, body = await _get(api_client, path, query)
    if status != 200:
        raise ClusterUnavailable(f"GET {path}: HTTP {status}: {_reason(body)}")
    return await _parse(body, path)


async def _list_all(
    api_client: Any,
    resource: ResourceType,
    page_size: int,
    diagnostics: list[Diagnostic],
) -> list[dict[str, Any]]:
    """Every object of ``resource``, following ``continue`` tokens. Forbidden, unserved or
    failing lists become diagnostics; an expired token (410) restarts the list once."""
    path = resource.list_path
    restarted = False
    items: list[dict[str, Any]] = []
    token = ""
    while True:
        query: dict[str, str | int] = {"limit": page_size}
        if token:
            query["continue"] = token
        status, body = await _get(api_client, path, query)
        if status == 410 and not restarted:
            restarted, items, token = True, [], ""
            continue
        if status != 200:
            diagnostics.append(
                Diagnostic(path, f"cannot list {resource.kind}: HTTP {status}: {_reason(body)}")
            )
            return []
        page = await _parse(body, path)
        for item in page.get("items") or []:
            if isinstance(item, dict):
                item["kind"] = resource.kind
                item["apiVersion"] = resource.group_version
                items.append(item)
        token = str((page.get("metadata") or {}).get("continue") or "")
        if not token:
            return items


async def _get(api_client: Any, path: str, query: dict[str, str | int]) -> tuple[int, bytes]:
    try:
        method, url, headers, body, post = await api_client.param_serialize(
            "GET",
            path,
            query_params=query or None,
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        response = await api_client.call_api(
            method, url, headers, body, post, _request_timeout=REQUEST_TIMEOUT_S
        )
        data: bytes = await response.read()
    except _NETWORK_ERRORS as exc:
        raise ClusterUnavailable(f"GET {path}: {type(exc).__name__}: {exc}") from exc
    return int(response.status), data


async def _parse(body: bytes, path: str) -> dict[str, Any]:
    try:
        if len(body) >= THREAD_PARSE_BYTES:
            parsed = await asyncio.to_thread(json.loads, body)
        else:
            parsed = json.loads(body)
    except ValueError as exc:
        raise ClusterUnavailable(f"GET {path}: response is not JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise ClusterUnavailable(f"GET {path}: response is not a JSON object")
    return parsed


def _reason(body: bytes) -> str:
    """The ``message`` of a Kubernetes Status body, or the start of the raw body."""
    try:
        status = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace")
    if isinstance(status, dict) and status.get("message"):
        return str(status["message"])
    return body[:200].decode("utf-8", "replace")
