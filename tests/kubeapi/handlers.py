"""HTTP layer of the test double: request parsing, dispatch to the verbs, JSON answers.

One catch-all aiohttp route lands in `ApiHandlers.dispatch`, which serves discovery and
health endpoints itself and hands resource requests to `Operations` (list/get/create/
update/patch/delete), `Paginator` (limit/continue) and `serve_watch` (watch streams).
The middleware built by `make_middleware` records requests, applies injected latency and
faults, and renders every `ApiError` as a Kubernetes `Status` body.
"""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
from collections.abc import Awaitable, Callable
from typing import Any, cast

from aiohttp import web
from aiohttp.typedefs import Middleware

from .admission import FieldValidation
from .discovery import api_group, api_group_list, api_resource_list, api_versions
from .faults import Faults, InternalError, RecordedRequest
from .jsonutil import JsonObject
from .operations import Operations
from .pagination import Paginator
from .reviews import AUTHENTICATION_GROUP, AUTHORIZATION_GROUP, Reviews
from .routing import ResourcePath, parse_resource_path, unknown_path
from .selectors import parse_field_selector, parse_label_selector
from .status import ApiError, bad_request, success_status
from .watch import WatchHub, WatchRequest, serve_watch

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# The API server's request body limit (3 MiB); aiohttp's own default is 1 MiB.
MAX_REQUEST_BYTES = 3 * 1024 * 1024


def status_response(error: ApiError) -> web.Response:
    headers = {}
    if error.retry_after_seconds is not None:
        headers["Retry-After"] = str(error.retry_after_seconds)
    return web.json_response(error.to_status(), status=error.code, headers=headers)


def _decode_body(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", errors="replace")


def make_middleware(
    faults: Faults, on_internal_error: Callable[[InternalError], None]
) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return status_response(
                ApiError(
                    413,
                    f"Request entity too large: limit is {MAX_REQUEST_BYTES}",
                    reason="RequestEntityTooLarge",
                )
            )
        faults.record(
            RecordedRequest(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                content_type=request.headers.get("Content-Type"),
                body=_decode_body(raw),
            )
        )
        delay = faults.latency_for(request.method, request.path)
        if delay:
            await asyncio.sleep(delay)
        try:
            injected = faults.take(request.method, request.path)
            if injected is not None:
                raise injected
            return await handler(request)
        except ApiError as error:
            return status_response(error)
        except web.HTTPException:
            raise
        except Exception as error:  # a bug in the double: answer 500 and let the test know
            log.exception("kube API double failed on %s %s", request.method, request.path)
            text = "".join(traceback.format_exception(error))
            on_internal_error(InternalError(request.method, request.path, text))
            return status_response(ApiError(500, f"internal error in the test double: {error!r}"))

    return middleware


def _flag(value: str | None) -> bool:
    return value in ("true", "1", "True")


def _int_param(query: Any, name: str) -> int | None:
    value = query.get(name)
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except ValueError:
        raise bad_request(f"{name}: Invalid value: {value!r}: must be an integer") from None
    if number < 0:
        raise bad_request(f"{name}: Invalid value: {value!r}: must be non-negative")
    return number


def _field_validation(value: str | None) -> FieldValidation:
    """The fieldValidation parameter; the API server's default is Warn."""
    if value in (None, ""):
        return "Warn"
    if value not in ("Ignore", "Warn", "Strict"):
        raise bad_request(
            f'fieldValidation: Unsupported value: "{value}": supported values: '
            '"Ignore", "Strict", "Warn"'
        )
    return cast(FieldValidation, value)


def _with_warnings(response: web.Response, warnings: list[str]) -> web.Response:
    """One `Warning: 299 - "..."` header per warning, as the API server sends them."""
    for warning in warnings:
        response.headers.add("Warning", f"299 - {json.dumps(warning)}")
    return response


class ApiHandlers:
    def __init__(
        self,
        ops: Operations,
        hub: WatchHub,
        paginator: Paginator,
        *,
        version_info: JsonObject,
        bookmark_interval: float,
        watch_timeout_scale: float,
        server_address: Callable[[], str],
        reviews: Reviews,
    ) -> None:
        self.reviews = reviews
        self.ops = ops
        self.hub = hub
        self.paginator = paginator
        self.version_info = version_info
        self.bookmark_interval = bookmark_interval
        self.watch_timeout_scale = watch_timeout_scale
        self.server_address = server_address

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        parts = path.split("/")[1:]
        if parts and parts[0] in ("api", "apis") and self._is_discovery(parts):
            if request.method != "GET":
                raise ApiError(405, f"the server does not allow this method on {path}")
            return web.json_response(self._discovery(parts))
        if parts in (["healthz"], ["readyz"], ["livez"]):
            return web.Response(text="ok")
        if parts == ["version"]:
            return web.json_response(self.version_info)
        if len(parts) >= 3 and parts[:2] == ["api", "v1"]:
            target = parse_resource_path(self.ops.registry, "", "v1", parts[2:])
        elif len(parts) >= 4 and parts[0] == "apis":
            target = parse_resource_path(self.ops.registry, parts[1], parts[2], parts[3:])
        else:
            raise unknown_path()
        return await self._resource(request, target)

    # -- discovery ---------------------------------------------------------------------

    @staticmethod
    def _is_discovery(parts: list[str]) -> bool:
        return len(parts) <= (2 if parts[0] == "api" else 3)

    def _discovery(self, parts: list[str]) -> JsonObject:
        registry = self.ops.registry
        found: JsonObject | None
        if parts == ["api"]:
            found = api_versions(self.server_address())
        elif parts[0] == "api":
            found = api_resource_list(registry, "", parts[1])
        elif len(parts) == 1:
            found = api_group_list(registry)
        elif len(parts) == 2:
            found = api_group(registry, parts[1])
        else:
            found = api_resource_list(registry, parts[1], parts[2])
        if found is None:
            raise unknown_path()
        return found

    # -- resources ---------------------------------------------------------------------

    async def _resource(self, request: web.Request, target: ResourcePath) -> web.StreamResponse:
        method, resource = request.method, target.resource
        verb = self._verb(method, target, watch=_flag(request.query.get("watch")))
        if verb is None or verb not in resource.verbs:
            raise ApiError(405, "the server does not allow this method on the requested resource")
        if verb in ("list", "watch", "deletecollection"):
            return await self._collection(request, target, verb)
        validation = _field_validation(request.query.get("fieldValidation"))
        warnings: list[str] = []
        if verb == "create" and resource.group in (AUTHENTICATION_GROUP, AUTHORIZATION_GROUP):
            body = await self._json_body(request)
            if not isinstance(body, dict):
                raise bad_request("the request body is not a JSON object")
            return web.json_response(self.reviews.answer(resource.group, body), status=201)
        if verb == "create":
            body = await self._json_body(request)
            created = self.ops.create(
                resource, target.namespace, body, validation=validation, warnings=warnings
            )
            return _with_warnings(web.json_response(created, status=201), warnings)
        assert target.name is not None
        if verb == "get":
            return web.json_response(self.ops.get(resource, target.namespace, target.name))
        if verb == "update":
            body = await self._json_body(request)
            updated = self.ops.update(
                resource,
                target.namespace,
                target.name,
                body,
                subresource=target.subresource,
                validation=validation,
                warnings=warnings,
            )
            return _with_warnings(web.json_response(updated), warnings)
        if verb == "patch":
            content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
            body = await self._json_body(request)
            patched = self.ops.patch(
                resource,
                target.namespace,
                target.name,
                content_type,
                body,
                subresource=target.subresource,
                validation=validation,
                warnings=warnings,
            )
            return _with_warnings(web.json_response(patched), warnings)
        options = await self._json_body(request, required=False)
        obj, deleted = self.ops.delete(resource, target.namespace, target.name, options)
        if deleted and not resource.returns_deleted_object:
            details = {"name": target.name, "kind": resource.plural, "uid": obj["metadata"]["uid"]}
            if resource.group:
                details["group"] = resource.group
            return web.json_response(success_status(details))
        return web.json_response(obj)

    @staticmethod
    def _verb(method: str, target: ResourcePath, *, watch: bool) -> str | None:
        if target.name is None:
            if method == "GET":
                return "watch" if target.legacy_watch or watch else "list"
            return {"POST": "create", "DELETE": "deletecollection"}.get(method)
        if target.legacy_watch:
            return "watch" if method == "GET" else None
        if method == "GET":
            return "get"
        if method == "DELETE":
            return "delete" if target.subresource is None else None
        return {"PUT": "update", "PATCH": "patch"}.get(method)

    async def _collection(
        self, request: web.Request, target: ResourcePath, verb: str
    ) -> web.StreamResponse:
        query, resource = request.query, target.resource
        labels = parse_label_selector(query.get("labelSelector"))
        fields = parse_field_selector(query.get("fieldSelector"), resource.supports_field)
        if verb == "watch":
            timeout = _int_param(query, "timeoutSeconds")
            watch = WatchRequest(
                resource=resource,
                namespace=target.namespace,
                labels=labels,
                fields=fields,
                resource_version=query.get("resourceVersion"),
                allow_bookmarks=_flag(query.get("allowWatchBookmarks")),
                timeout_seconds=timeout * self.watch_timeout_scale if timeout else None,
            )
            return await serve_watch(request, self.ops, self.hub, watch, self.bookmark_interval)
        if verb == "deletecollection":
            items, _ = self.ops.list_shared(resource, target.namespace, labels, fields)
            options = await self._json_body(request, required=False)
            for item in items:
                meta = item["metadata"]
                try:
                    self.ops.delete(resource, meta.get("namespace"), meta["name"], options)
                except ApiError as error:
                    if error.code != 404:  # deleted concurrently: that is fine
                        raise
            return web.json_response(success_status({"kind": resource.plural}))
        limit = _int_param(query, "limit")
        token = query.get("continue")
        if token:
            page = self.paginator.next_page(token, limit, self.ops.store.compacted_revision)
        else:
            # Shared with the store (pages are serialised, never changed): copying the
            # collection for every LIST made a controller's run quadratic.
            items, revision = self.ops.list_shared(resource, target.namespace, labels, fields)
            page = self.paginator.first_page(items, revision, limit)
        list_meta: JsonObject = {"resourceVersion": str(page.resource_version)}
        if page.continue_token:
            list_meta["continue"] = page.continue_token
            list_meta["remainingItemCount"] = page.remaining
        items_out = page.items
        if resource.builtin:
            # Built-in list items come without kind/apiVersion on the wire.
            items_out = [
                {k: v for k, v in item.items() if k not in ("kind", "apiVersion")}
                for item in items_out
            ]
        return web.json_response(
            {
                "kind": resource.list_kind,
                "apiVersion": resource.api_version,
                "metadata": list_meta,
                "items": items_out,
            }
        )

    @staticmethod
    async def _json_body(request: web.Request, *, required: bool = True) -> Any:
        raw = await request.read()
        if not raw:
            if required:
                raise bad_request("the request body is empty")
            return None
        try:
            return json.loads(raw)
        except ValueError as error:
            raise bad_request(f"couldn't decode the request body as JSON: {error}") from error
