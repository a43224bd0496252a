"""pytest fixtures for the Kubernetes API test double.

Loaded for the whole suite by `pytest_plugins = ["tests.kubeapi.fixtures"]` in
tests/conftest.py. Bookmarks come every 0.2 s so watch tests stay fast. Teardown fails
the test, with the tracebacks, if the double hit an internal error (a bug in the double,
answered as a 500): leaving the double's context raises `DoubleFailed`, so such a bug can
never pass as a "server error" the code under test retried.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import kubernetes.aio.client
import kubernetes.client
import pytest
import pytest_asyncio

from .server import KubeApiDouble
from .tekton import TektonSimulator

TEST_BOOKMARK_INTERVAL = 0.2


@pytest_asyncio.fixture
async def kube_api() -> AsyncIterator[KubeApiDouble]:
    """A started double on the test's event loop, for `kubernetes.aio`."""
    async with KubeApiDouble(bookmark_interval=TEST_BOOKMARK_INTERVAL) as api:
        yield api


@pytest.fixture
def kube_api_thread() -> Iterator[KubeApiDouble]:
    """A double serving from its own thread and loop, for the blocking `kubernetes.client`."""
    with KubeApiDouble.run_in_thread(bookmark_interval=TEST_BOOKMARK_INTERVAL) as api:
        yield api


@pytest_asyncio.fixture
async def kube_aio_client(
    kube_api: KubeApiDouble,
) -> AsyncIterator[kubernetes.aio.client.ApiClient]:
    """A `kubernetes.aio` ApiClient bound to `kube_api`, closed after the test."""
    async with kubernetes.aio.client.ApiClient(kube_api.aio_configuration()) as client:
        yield client


@pytest.fixture
def kube_sync_client(kube_api_thread: KubeApiDouble) -> Iterator[kubernetes.client.ApiClient]:
    """A sync `kubernetes.client` ApiClient bound to `kube_api_thread`, closed after."""
    with kubernetes.client.ApiClient(kube_api_thread.client_configuration()) as client:
        yield client


@pytest.fixture
def tekton(kube_api: KubeApiDouble) -> TektonSimulator:
    """`kube_api` serving tekton.dev/v1, and a simulator driving its PipelineRuns."""
    kube_api.register_tekton()
    return TektonSimulator(kube_api)
