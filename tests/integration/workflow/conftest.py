"""Fixtures for the workflow controller's integration tests against the kube API double.

``kube_api`` comes from the ``tests.kubeapi.fixtures`` plugin (tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.kubeapi import KubeApiDouble

from .harness import Harness


@pytest_asyncio.fixture
async def harness(kube_api: KubeApiDouble) -> AsyncIterator[Harness]:
    h = Harness(kube_api)
    try:
        yield h
    finally:
        await h.close()
