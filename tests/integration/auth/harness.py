"""Servers with authentication on, and calls to any RPC by its descriptor.

``serve`` starts an :class:`AssayServer` (in its own thread, as the other API tests do) with
a static token file of two callers, a reader and a writer, and optionally workflows or
TokenReview over a Kubernetes API double. ``call`` makes one call to any method of any
service with an empty request (or a given one) and returns the status code, so a test can
walk the service descriptors and cover every RPC, present and future.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message

from assay.server.app import AssayServer
from assay.server.auth.settings import AuthSettings
from assay.server.kube.client import KubeClient
from assay.server.settings import Settings
from assay.server.storage.repository import Repository
from tests.integration.api.server_fixtures import ServerThread, server_settings
from tests.integration.api.workflow_fixtures import NS, fast_controller
from tests.integration.kube.fixtures import kube_client
from tests.integration.workflow.harness import CRD_PATH, EXEC_NS
from tests.kubeapi import KubeApiDouble
from tests.ports import free_port

# Distinctive strings, so a test can look for them in every log line and error.
READER_TOKEN = "rdr-token-6c1d0e7a9b"
WRITER_TOKEN = "wrt-token-3f8e2a5c41"
READER = "reader-user-5e2"
WRITER = "writer-user-9a7"
WRITERS = "assay:writers"
METRICS_TOKEN = "mtr-token-0b9d7c2e18"


def token_file(folder: Path) -> Path:
    path = folder / "tokens.csv"
    path.write_text(
        f"# token,user,groups\n{READER_TOKEN},{READER},viewers\n"
        f"{WRITER_TOKEN},{WRITER},viewers|{WRITERS}\n"
        f"{METRICS_TOKEN},prometheus,assay:metrics\n"
    )
    return path


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


@dataclass
class Secured:
    running: ServerThread
    api: KubeApiDouble | None = None
    contexts: list[str] = field(default_factory=list)
    """The kubeconfig contexts the server asked its client factory for."""

    @property
    def target(self) -> str:
        return self.running.target

    @property
    def server(self) -> AssayServer:
        return self.running.server


@contextlib.contextmanager
def serve(
    repository: Repository,
    settings: Settings,
    *,
    api: KubeApiDouble | None = None,
) -> Iterator[Secured]:
    """Run a server with ``settings``; with ``api``, its Kubernetes clients talk to it."""
    if api is None:
        running = ServerThread(AssayServer(settings, repository=repository))
        with running:
            yield Secured(running)
        return
    contexts: list[str] = []
    double = api

    async def setup() -> None:
        await double.start()
        if settings.workflow.enabled:
            double.load_crd(CRD_PATH)
            double.register_tekton()
            double.seed(
                [
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}}
                    for n in (EXEC_NS, NS)
                ]
            )

    async def factory(context: str) -> KubeClient:
        contexts.append(context)
        return kube_client(double)

    server = AssayServer(settings, repository=repository, kube_client_factory=factory)
    running = ServerThread(server, setup=setup, teardown=double.stop)
    with running:
        yield Secured(running, double, contexts)
    double.check_internal_errors()


def secured_settings(folder: Path, *, workflows: bool = False, **auth: Any) -> Settings:
    """Loopback settings with the token file of :func:`token_file` and ``auth`` fields."""
    settings = server_settings(
        auth=AuthSettings(token_file=str(token_file(folder)), **auth), cluster_id="test-cluster"
    )
    if workflows:
        settings = dataclasses.replace(settings, workflow=fast_controller())
    return settings


def with_http(settings: Settings) -> Settings:
    return dataclasses.replace(
        settings,
        health_host="127.0.0.1",
        health_port=free_port(),
        metrics_port=free_port(),
        health_poll_s=0.05,
    )


def get(port: int, path: str, token: str | None = None) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def request_class(method: MethodDescriptor) -> type[Message]:
    return message_factory.GetMessageClass(method.input_type)


def call(
    channel: grpc.Channel,
    method: MethodDescriptor,
    metadata: Sequence[tuple[str, str]] = (),
    request: Message | None = None,
) -> tuple[grpc.StatusCode, str]:
    """Call ``method`` once; (code, details), OK when it answered."""
    path = f"/{method.containing_service.full_name}/{method.name}"
    message = request if request is not None else request_class(method)()
    response_class = message_factory.GetMessageClass(method.output_type)
    options: dict[str, Any] = {
        "request_serializer": lambda m: m.SerializeToString(),
        "response_deserializer": response_class.FromString,
    }
    try:
        if method.client_streaming:
            requests = iter([message])
            if method.server_streaming:
                next(iter(channel.stream_stream(path, **options)(requests, metadata=metadata)))
            else:
                channel.stream_unary(path, **options)(requests, metadata=metadata, timeout=10)
        elif method.server_streaming:
            stream = channel.unary_stream(path, **options)(message, metadata=metadata, timeout=2)
            with contextlib.suppress(StopIteration):
                next(iter(stream))
            stream.cancel()
        else:
            channel.unary_unary(path, **options)(message, metadata=metadata, timeout=10)
    except grpc.RpcError as error:
        assert isinstance(error, grpc.Call)
        return error.code(), error.details() or ""
    return grpc.StatusCode.OK, ""
