"""Lists page with limit/continue and start over when a continue token expires (410)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from kubernetes.aio.client import ApiClient

from assay.server.kube.client import KubeClient
from assay.server.kube.errors import KubeGone
from assay.server.kube.resources import Resource
from assay.server.kube.settings import KubeSettings
from tests.kubeapi import KubeApiDouble

CONFIGMAPS = Resource("", "v1", "configmaps", kind="ConfigMap")
LIST_PATH = "/api/v1/configmaps"


def configmap(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}


def list_queries(api: KubeApiDouble) -> list[dict[str, str]]:
    return [dict(r.query) for r in api.requests if r.path == LIST_PATH]


class ExpireAfterFirstPage:
    """Writes an object and compacts the store once the first page of a list has been
    answered, so the continue token of that page is too old when the client uses it; the
    way a real API server's token expires while a slow client pages through a big list."""

    def __init__(self, api: KubeApiDouble, *, times: int = 1) -> None:
        self.api = api
        self.remaining = times
        self.trace = aiohttp.TraceConfig()
        self.trace.on_request_end.append(self._on_end)

    async def _on_end(
        self, session: aiohttp.ClientSession, context: SimpleNamespace, params: Any
    ) -> None:
        url = params.url
        if url.path == LIST_PATH and "continue" not in url.query and self.remaining > 0:
            self.remaining -= 1
            self.api.seed(configmap(f"late-{self.remaining}"))
            self.api.compact()


@pytest_asyncio.fixture
async def expiring(
    kube_api: KubeApiDouble,
) -> AsyncIterator[tuple[KubeClient, ExpireAfterFirstPage]]:
    expiry = ExpireAfterFirstPage(kube_api)
    configuration = kube_api.aio_configuration()
    configuration.trace_configs = [expiry.trace]
    settings = KubeSettings(page_size=3, list_restarts=2)
    async with KubeClient(ApiClient(configuration), settings=settings) as client:
        yield client, expiry


async def test_every_page_is_read_and_items_get_their_kind(
    kube: KubeClient, kube_api: KubeApiDouble
) -> None:
    kube_api.seed([configmap(f"cm-{i:02d}") for i in range(11)])
    listed = await kube.list(CONFIGMAPS, page_size=4)
    assert sorted(i["metadata"]["name"] for i in listed.items) == [f"cm-{i:02d}" for i in range(11)]
    assert {(i["kind"], i["apiVersion"]) for i in listed.items} == {("ConfigMap", "v1")}
    assert listed.resource_version
    queries = list_queries(kube_api)
    assert [q["limit"] for q in queries] == ["4", "4", "4"]
    assert "continue" not in queries[0] and all(q.get("continue") for q in queries[1:])


async def test_an_expired_continue_token_starts_the_list_over(
    kube_api: KubeApiDouble, expiring: tuple[KubeClient, ExpireAfterFirstPage]
) -> None:
    client, _ = expiring
    kube_api.seed([configmap(f"cm-{i}") for i in range(7)])
    listed = await client.list(CONFIGMAPS)
    names = [i["metadata"]["name"] for i in listed.items]
    # One consistent snapshot: the first attempt's page is dropped, nothing twice.
    assert sorted(names) == sorted([f"cm-{i}" for i in range(7)] + ["late-0"])
    assert len(names) == len(set(names))
    queries = list_queries(kube_api)
    # first page, its expired continuation (410), then the whole list again: 3 pages
    assert ["continue" in q for q in queries] == [False, True, False, True, True]


async def test_the_pages_themselves_raise_gone(
    kube_api: KubeApiDouble, expiring: tuple[KubeClient, ExpireAfterFirstPage]
) -> None:
    client, _ = expiring
    kube_api.seed([configmap(f"cm-{i}") for i in range(7)])
    pages = client.pages(CONFIGMAPS)
    first = await anext(pages)
    assert len(first.items) == 3
    with pytest.raises(KubeGone, match="continue parameter is too old"):
        await anext(pages)


async def test_restarts_are_bounded(
    kube_api: KubeApiDouble, expiring: tuple[KubeClient, ExpireAfterFirstPage]
) -> None:
    client, expiry = expiring
    expiry.remaining = 10  # every attempt expires
    kube_api.seed([configmap(f"cm-{i}") for i in range(7)])
    with pytest.raises(KubeGone):
        await client.list(CONFIGMAPS)
    first_pages = [q for q in list_queries(kube_api) if "continue" not in q]
    assert len(first_pages) == 1 + client.settings.list_restarts


async def test_gone_on_the_first_page_is_retried_too(
    kube: KubeClient, kube_api: KubeApiDouble
) -> None:
    kube_api.seed([configmap("only")])
    kube_api.inject(path_regex=f"^{LIST_PATH}$", status=410, times=2, reason="Expired")
    listed = await kube.list(CONFIGMAPS)
    assert [i["metadata"]["name"] for i in listed.items] == ["only"]
    assert len(list_queries(kube_api)) == 3
