"""A thin async Kubernetes API wrapper that speaks plain dicts.

Built on ``kubernetes.aio``'s :class:`ApiClient` (configuration, auth, TLS, connection pool)
but it sends requests with ``_preload_content=False`` and decodes JSON itself: no pydantic
models are built (they are slow and block the loop, see DESIGN.md), every resource (CRDs,
Tekton, Leases, Events) goes through the same six verbs, and failures come back as the
:mod:`.errors` tree instead of ``ApiException``. Lists paginate; :meth:`KubeClient.watch`
yields decoded watch events and turns an in-stream 410 into :class:`KubeGone`.

Used by the lock manager, the reconciler, the informers, the leader elector and the
controller facade. The caller owns the ``ApiClient`` and closes it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import aiohttp
from kubernetes.aio.client import ApiClient

from assay.server.workflow.errors import KubeUnavailable, error_for_status
from assay.server.workflow.model import (
    GROUP,
    PIPELINERUN_PLURAL,
    PLURAL,
    TASKRUN_PLURAL,
    TEKTON_GROUP,
    TEKTON_VERSION,
    VERSION,
    KubeObject,
)

JSON: Final = "application/json"
MERGE_PATCH: Final = "application/merge-patch+json"


@dataclass(frozen=True)
class Resource:
    """A resource collection: ``group/version/plural`` (core group when ``group`` is '')."""

    group: str
    version: str
    plural: str
    namespaced: bool = True

    def path(
        self, namespace: str | None = None, name: str | None = None, subresource: str = ""
    ) -> str:
        base = f"/api/{self.version}" if not self.group else f"/apis/{self.group}/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
            if subresource:
                base += f"/{subresource}"
        return base


WORKFLOW_EXECUTIONS = Resource(GROUP, VERSION, PLURAL)
PIPELINE_RUNS = Resource(TEKTON_GROUP, TEKTON_VERSION, PIPELINERUN_PLURAL)
TASK_RUNS = Resource(TEKTON_GROUP, TEKTON_VERSION, TASKRUN_PLURAL)
LEASES = Resource("coordination.k8s.io", "v1", "leases")
EVENTS = Resource("", "v1", "events")


@dataclass(frozen=True)
class ObjectList:
    items: list[KubeObject]
    resource_version: str


@dataclass(frozen=True)
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED, BOOKMARK
    object: KubeObject

    @property
    def resource_version(self) -> str:
        return str((self.object.get("metadata") or {}).get("resourceVersion") or "")


def _decode(raw: bytes) -> Any:
    """A response body as JSON; None when empty or not JSON (the status code then speaks)."""
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


class KubeClient:
    """Raw-dict access to the API server through a ``kubernetes.aio`` ``ApiClient``."""

    def __init__(
        self, api_client: ApiClient, *, request_timeout: float = 30.0, page_size: int = 500
    ) -> None:
        self._api = api_client
        self._timeout = request_timeout
        self._page_size = page_size

    async def _send(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        body: Any = None,
        content_type: str = JSON,
        request_timeout: float | None = None,
    ) -> aiohttp.ClientResponse:
        params = await self._api.param_serialize(
            method=method,
            resource_path=path,
            query_params=list(query),
            header_params={"Accept": JSON, "Content-Type": content_type},
            body=body,
            auth_settings=["BearerToken"],
        )
        try:
            rest = await self._api.call_api(
                *params, _request_timeout=request_timeout or self._timeout, _preload_content=False
            )
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise KubeUnavailable(0, type(exc).__name__, str(exc)) from exc
        response: aiohttp.ClientResponse = rest.response
        return response

    async def _request(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        body: Any = None,
        content_type: str = JSON,
    ) -> Any:
        response = await self._send(method, path, query=query, body=body, content_type=content_type)
        try:
            raw = await response.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise KubeUnavailable(0, type(exc).__name__, str(exc)) from exc
        finally:
            response.release()
        decoded = _decode(raw)
        if response.status >= 400:
            raise error_for_status(response.status, decoded)
        return decoded

    async def get(self, resource: Resource, namespace: str | None, name: str) -> KubeObject:
        obj: KubeObject = await self._request("GET", resource.path(namespace, name))
        return obj

    async def list(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> ObjectList:
        """Every matching object, page by page, with the list's resourceVersion."""
        items: list[KubeObject] = []
        cont = ""
        while True:
            query: list[tuple[str, str]] = [("limit", str(self._page_size))]
            if label_selector:
                query.append(("labelSelector", label_selector))
            if field_selector:
                query.append(("fieldSelector", field_selector))
            if cont:
                query.append(("continue", cont))
            page: KubeObject = await self._request("GET", resource.path(namespace), query=query)
            items.extend(page.get("items") or [])
            list_meta = page.get("metadata") or {}
            cont = str(list_meta.get("continue") or "")
            if not cont:
                return ObjectList(items, str(list_meta.get("resourceVersion") or ""))

    async def create(
        self, resource: Resource, namespace: str | None, body: KubeObject
    ) -> KubeObject:
        obj: KubeObject = await self._request("POST", resource.path(namespace), body=body)
        return obj

    async def replace(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        body: KubeObject,
        *,
        subresource: str = "",
    ) -> KubeObject:
        """PUT; the body's resourceVersion makes it conditional (409 when stale)."""
        obj: KubeObject = await self._request(
            "PUT", resource.path(namespace, name, subresource), body=body
        )
        return obj

    async def replace_status(
        self, resource: Resource, namespace: str | None, name: str, body: KubeObject
    ) -> KubeObject:
        return await self.replace(resource, namespace, name, body, subresource="status")

    async def patch(
        self, resource: Resource, namespace: str | None, name: str, patch: KubeObject
    ) -> KubeObject:
        """JSON merge patch."""
        obj: KubeObject = await self._request(
            "PATCH", resource.path(namespace, name), body=patch, content_type=MERGE_PATCH
        )
        return obj

    async def delete(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        *,
        resource_version: str | None = None,
        uid: str | None = None,
        propagation: str = "Background",
    ) -> None:
        """Delete, optionally only if the object still has this resourceVersion/uid."""
        options: KubeObject = {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "propagationPolicy": propagation,
        }
        preconditions = {}
        if resource_version:
            preconditions["resourceVersion"] = resource_version
        if uid:
            preconditions["uid"] = uid
        if preconditions:
            options["preconditions"] = preconditions
        await self._request("DELETE", resource.path(namespace, name), body=options)

    async def watch(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        resource_version: str,
        label_selector: str | None = None,
        timeout_seconds: int = 300,
    ) -> AsyncGenerator[WatchEvent, None]:
        """Stream events after ``resource_version`` until the server ends the watch.

        Raises :class:`KubeGone` when the version is too old (HTTP 410 or an in-stream ERROR
        event with code 410): the caller must re-list. Use with ``contextlib.aclosing``.
        """
        query: list[tuple[str, str]] = [
            ("watch", "true"),
            ("allowWatchBookmarks", "true"),
            ("resourceVersion", resource_version),
            ("timeoutSeconds", str(timeout_seconds)),
        ]
        if label_selector:
            query.append(("labelSelector", label_selector))
        response = await self._send(
            "GET", resource.path(namespace), query=query, request_timeout=timeout_seconds + 30.0
        )
        try:
            if response.status >= 400:
                raise error_for_status(response.status, _decode(await response.read()))
            async for line in response.content:
                if not line.strip():
                    continue
                event = json.loads(line)
                kind = str(event.get("type", ""))
                obj = event.get("object") or {}
                if kind == "ERROR":
                    code = int(obj.get("code") or 500) if isinstance(obj, dict) else 500
                    raise error_for_status(code, obj)
                yield WatchEvent(kind, obj)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise KubeUnavailable(0, type(exc).__name__, str(exc)) from exc
        finally:
            response.close()
