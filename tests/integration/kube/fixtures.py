"""Pytest plugin: the server's Kubernetes client bound to the API test double.

``kube`` is a :class:`~assay.server.kube.client.KubeClient` over HTTP to ``kube_api`` (from
``tests.kubeapi.fixtures``) with small pages, so pagination shows in small tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from kubernetes.aio.client import ApiClient

from assay.server.kube.client import KubeClient
from assay.server.kube.settings import KubeSettings
from tests.kubeapi import KubeApiDouble

TEST_KUBE_SETTINGS = KubeSettings(request_timeout_s=10, page_size=500)


def kube_client(api: KubeApiDouble, settings: KubeSettings = TEST_KUBE_SETTINGS) -> KubeClient:
    """A new client of ``api`` (the caller closes it)."""
    return KubeClient(ApiClient(api.aio_configuration()), settings=settings)


@pytest_asyncio.fixture
async def kube(kube_api: KubeApiDouble) -> AsyncIterator[KubeClient]:
    async with kube_client(kube_api) as client:
        yield client
