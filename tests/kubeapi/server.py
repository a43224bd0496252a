"""`KubeApiDouble`: a Kubernetes API server test double on aiohttp, and its public API.

Start it inside the test's event loop (`async with KubeApiDouble() as api:`) for the
`kubernetes.aio` client, or with `KubeApiDouble.run_in_thread()` for the blocking
`kubernetes.client`, which would otherwise stall the loop the double runs on. Tests then
talk HTTP through the official clients and use the methods here to arrange state (`seed`,
`load_crd`, `register_tekton`; who holds which token and RBAC on non-resource URLs through
`reviews`, see `reviews.py`), break things (`inject`, `set_latency`, `compact`,
`disable_group`) and assert (`requests`, `wait_for_request`, `get_object`, `list_objects`,
`wait_for_object`). Leaving the double raises `DoubleFailed` if a handler failed
unexpectedly (see `check_internal_errors`).

Custom resources are pruned, defaulted and validated against their CRD's structural
schema on every write through the API (`schema.py`); `seed` stores objects as given, so a
test can put in place what admission would have refused.

Deliberate simplifications, each invisible to the clients this double is built for:
strategic merge patch is applied as a JSON merge patch; server-side apply, dryRun, the
scale subresource and garbage collection (ownerReferences, namespace cascade, propagation
policies) are not implemented; CEL rules (`x-kubernetes-validations`) are not evaluated
and built-in kinds are not schema-validated; namespaces and pods are deleted immediately
(no Terminating phase or grace period); core/v1 and events.k8s.io/v1 Events are stored
apart.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import kubernetes.aio.client
import kubernetes.client
import yaml
from aiohttp import web

from .discovery import DEFAULT_VERSION
from .faults import DoubleFailed, Faults, Injection, InternalError, RecordedRequest
from .handlers import MAX_REQUEST_BYTES, ApiHandlers, make_middleware
from .jsonutil import JsonObject
from .operations import Operations
from .pagination import Paginator
from .resources import ResourceRegistry, ResourceType
from .reviews import Reviews
from .selectors import parse_label_selector
from .store import ObjectStore, StoredEvent
from .tekton import tekton_crds
from .watch import WatchHub

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class KubeApiDouble:
    """An in-process Kubernetes API server for tests (HTTP, no auth, no TLS)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        bookmark_interval: float = 1.0,
        strict_namespaces: bool = True,
        namespaces: Iterable[str] = DEFAULT_NAMESPACES,
        max_history: int | None = None,
        version_info: Mapping[str, str] | None = None,
        watch_timeout_scale: float = 1.0,
    ) -> None:
        """
        bookmark_interval: seconds between BOOKMARK events on watches that allow them.
        strict_namespaces: creating into a namespace that does not exist is a 404, as on a
            real cluster; `namespaces` are created up front (a fresh cluster's set).
        max_history: keep at most this many events for watch replay (like the watch
            cache window); None keeps everything until `compact()`.
        watch_timeout_scale: a watch's timeoutSeconds (an integer in the API) is
            multiplied by this, so tests can see a server-side timeout in a fraction of
            a second.
        """
        self._host, self._port = host, port
        self.store = ObjectStore(max_history=max_history)
        self.registry = ResourceRegistry()
        self.ops = Operations(self.store, self.registry, strict_namespaces=strict_namespaces)
        self.faults = Faults()
        self.hub = WatchHub()
        # Handler exceptions the clients saw as 500s; any of them fails the test at exit.
        self.internal_errors: list[InternalError] = []
        # Who holds which token, and the RBAC rules of SubjectAccessReviews.
        self.reviews = Reviews()
        self._handlers = ApiHandlers(
            self.ops,
            self.hub,
            Paginator(),
            version_info={**DEFAULT_VERSION, **(version_info or {})},
            bookmark_interval=bookmark_interval,
            watch_timeout_scale=watch_timeout_scale,
            server_address=lambda: f"{self._host}:{self._port}",
            reviews=self.reviews,
        )
        self._runner: web.AppRunner | None = None
        self.seed(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": name},
                "status": {"phase": "Active"},
            }
            for name in namespaces
        )

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(
            middlewares=[make_middleware(self.faults, self.internal_errors.append)],
            client_max_size=MAX_REQUEST_BYTES,
        )
        app.router.add_route("*", "/{tail:.*}", self._handlers.dispatch)
        # handler_cancellation: a watch whose client disconnected must stop at once.
        runner = web.AppRunner(
            app, handler_cancellation=True, access_log=None, shutdown_timeout=2.0
        )
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        await site.start()
        self._port = int(runner.addresses[0][1])
        self._runner = runner

    async def stop(self) -> None:
        if self._runner is None:
            return
        self.hub.close_all()
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()
        self._report_internal_errors(exc)

    def check_internal_errors(self) -> None:
        """Raise `DoubleFailed` (an AssertionError, with every traceback) if a handler hit
        an unexpected exception. Leaving `async with` or `run_in_thread` calls this; code
        that uses `start`/`stop` itself calls it at teardown."""
        if self.internal_errors:
            raise DoubleFailed(list(self.internal_errors))

    def _report_internal_errors(self, pending: BaseException | None) -> None:
        if pending is None:
            self.check_internal_errors()
        elif self.internal_errors:
            # Do not hide the exception already on its way out; say what the double saw.
            pending.add_note(str(DoubleFailed(list(self.internal_errors))))

    @classmethod
    @contextlib.contextmanager
    def run_in_thread(cls, **options: Any) -> Iterator[Self]:
        """Serve from a background thread with its own event loop, for blocking clients.

        All public methods are thread-safe, so the test thread can seed, inject and
        assert while the double serves requests on its own loop.
        """
        api = cls(**options)
        ready: concurrent.futures.Future[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = (
            concurrent.futures.Future()
        )

        async def serve() -> None:
            loop = asyncio.get_running_loop()
            stop_requested: asyncio.Future[None] = loop.create_future()
            try:
                await api.start()
            except BaseException as error:
                ready.set_exception(error)
                return
            ready.set_result((loop, stop_requested))
            try:
                await stop_requested
            finally:
                await api.stop()

        thread = threading.Thread(
            target=asyncio.run, args=(serve(),), name="kube-api-double", daemon=True
        )
        thread.start()
        try:
            loop, stop_requested = ready.result(timeout=30)
        except BaseException:
            thread.join(timeout=30)
            raise
        pending: BaseException | None = None
        try:
            yield api
        except BaseException as error:
            pending = error
            raise
        finally:
            loop.call_soon_threadsafe(stop_requested.set_result, None)
            thread.join(timeout=30)
            api._report_internal_errors(pending)

    @property
    def url(self) -> str:
        if self._runner is None:
            raise RuntimeError("the kube API double is not started")
        return f"http://{self._host}:{self._port}"

    def client_configuration(self) -> kubernetes.client.Configuration:
        """Configuration for the sync `kubernetes.client` (no auth)."""
        return kubernetes.client.Configuration(host=self.url)

    def aio_configuration(self) -> kubernetes.aio.client.Configuration:
        """Configuration for `kubernetes.aio.client` (no auth, proxies from env ignored)."""
        return kubernetes.aio.client.Configuration(
            host=self.url, client_session_kwargs={"trust_env": False}
        )

    # -- served resources --------------------------------------------------------------

    def register_resource(self, resource: ResourceType) -> None:
        """Serve an extra resource type (e.g. metrics.k8s.io PodMetrics)."""
        self.registry.register(resource)

    def register_crd(self, crd: JsonObject) -> JsonObject:
        """Create (or replace) a CRD object; its group/version/plural become served."""
        return self.ops.seed(crd)

    def load_crd(self, path: str | Path) -> list[JsonObject]:
        """Register every CustomResourceDefinition in a YAML file (e.g. deploy/crds/*.yaml)."""
        with open(path, encoding="utf-8") as stream:
            documents = [d for d in yaml.safe_load_all(stream) if d]
        crds = [d for d in documents if d.get("kind") == "CustomResourceDefinition"]
        if not crds:
            raise ValueError(f"{path}: no CustomResourceDefinition found")
        return [self.register_crd(crd) for crd in crds]

    def register_tekton(self) -> None:
        """Serve tekton.dev/v1 pipelineruns and taskruns (with status subresources)."""
        for crd in tekton_crds():
            self.register_crd(crd)

    def disable_group(self, group: str) -> None:
        """Make an API group absent: 404 on its discovery and resource URLs."""
        self.registry.disable_group(group)

    def enable_group(self, group: str) -> None:
        self.registry.enable_group(group)

    # -- fault injection and accounting -------------------------------------------------

    def inject(
        self,
        *,
        method: str | None = None,
        path_regex: str = ".*",
        status: int = 500,
        times: int | None = 1,
        reason: str | None = None,
        message: str | None = None,
        retry_after_seconds: int | None = None,
    ) -> Injection:
        """Answer the next `times` matching requests (None: all) with a Status error.

        `path_regex` is searched in the URL path (no query). The returned Injection
        counts its `hits`.
        """
        return self.faults.add(
            Injection(method, path_regex, status, times, reason, message, retry_after_seconds)
        )

    def clear_injections(self) -> None:
        self.faults.clear()

    def set_latency(
        self, seconds: float, *, path_regex: str | None = None, method: str | None = None
    ) -> None:
        """Delay every matching request by `seconds` before it is served; 0 turns it off."""
        self.faults.set_latency(seconds, path_regex, method)

    def compact(self) -> int:
        """Drop watch history up to now; older resourceVersions then get 410 Expired."""
        return self.store.compact()

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order."""
        return self.faults.requests()

    def clear_requests(self) -> None:
        self.faults.clear_requests()

    async def wait_for_request(
        self, predicate: Callable[[RecordedRequest], bool], *, within: float = 5.0
    ) -> RecordedRequest:
        """Wait (without polling) for a request matching predicate to reach the double,
        looking at those already received first (before any latency or injected fault is
        applied to it); TimeoutError after `within` seconds."""
        loop = asyncio.get_running_loop()
        arrived: asyncio.Queue[RecordedRequest] = asyncio.Queue()

        def on_request(request: RecordedRequest) -> None:
            loop.call_soon_threadsafe(arrived.put_nowait, request)

        token = self.faults.listen(on_request)
        try:
            for request in self.requests:
                if predicate(request):
                    return request
            async with asyncio.timeout(within):
                while not predicate(request := await arrived.get()):
                    pass
                return request
        finally:
            self.faults.unlisten(token)

    @property
    def resource_version(self) -> int:
        """The current (latest) global resourceVersion."""
        return self.store.resource_version

    # -- direct object access ------------------------------------------------------------

    def seed(self, objects: JsonObject | Iterable[JsonObject]) -> list[JsonObject]:
        """Put objects straight into the store (status and finalizers kept as given), with
        the usual watch events. Missing namespaces default to "default". No admission: a
        custom resource is neither pruned nor validated, as if it predated its schema."""
        items = [objects] if isinstance(objects, dict) else list(objects)
        return [self.ops.seed(obj) for obj in items]

    def resource(self, api_version: str, kind: str) -> ResourceType:
        found = self.registry.by_kind(api_version, kind)
        if found is None:
            raise KeyError(f"no served resource for apiVersion={api_version} kind={kind}")
        return found

    def get_object(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> JsonObject | None:
        """The stored object, or None; no HTTP involved."""
        resource = self.resource(api_version, kind)
        stored = self.store.get(resource.storage_key, namespace or "", name)
        return None if stored is None else self.ops.present(resource, stored)

    def list_objects(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
    ) -> list[JsonObject]:
        """Stored objects ordered by (namespace, name); all namespaces when None."""
        resource = self.resource(api_version, kind)
        items, _ = self.ops.list(resource, namespace, parse_label_selector(label_selector))
        return items

    async def wait_for_object(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None = None,
        *,
        predicate: Callable[[JsonObject], bool] | None = None,
        within: float = 5.0,
    ) -> JsonObject:
        """Wait (without polling) until the object exists and satisfies predicate;
        TimeoutError after `within` seconds."""
        resource = self.resource(api_version, kind)
        async with self._changes(resource) as changed:
            async with asyncio.timeout(within):
                while True:
                    changed.clear()  # before the check, so no change can slip between
                    obj = self.get_object(api_version, kind, name, namespace)
                    if obj is not None and (predicate is None or predicate(obj)):
                        return obj
                    await changed.wait()

    @contextlib.asynccontextmanager
    async def _changes(self, resource: ResourceType) -> AsyncIterator[asyncio.Event]:
        loop = asyncio.get_running_loop()
        changed = asyncio.Event()

        def on_event(event: StoredEvent) -> None:
            if event.key == resource.storage_key:
                loop.call_soon_threadsafe(changed.set)

        token = self.store.subscribe(on_event)
        try:
            yield changed
        finally:
            self.store.unsubscribe(token)
