"""Fixtures for the workflow controller's integration tests against the kube API double."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.kubeapi import KubeApiDouble
from tests.kubeapi.fixtures import kube_api  # noqa: F401  (fixture)

from .harness import Harness


@pytest_asyncio.fixture
async def harness(kube_api: KubeApiDouble) -> AsyncIterator[Harness]:  # noqa: F811
    h = Harness(kube_api)
    try:
        yield h
    finally:
        await h.close()
