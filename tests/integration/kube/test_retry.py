"""The conflict-retry helper over HTTP: re-read and re-apply on 409, within its limit."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from assay.server.kube.client import KubeClient
from assay.server.kube.errors import KubeConflict, KubeNotFound
from assay.server.kube.objects import KubeObject
from assay.server.kube.resources import LEASES
from assay.server.kube.retry import ConflictRetry
from assay.server.kube.settings import KubeSettings
from tests.integration.kube.fixtures import kube_client
from tests.kubeapi import KubeApiDouble


def lease(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"holderIdentity": "", "leaseTransitions": 0},
    }


def bump(kube: KubeClient) -> Any:
    async def write(current: KubeObject) -> KubeObject:
        new = copy.deepcopy(current)
        new["spec"]["leaseTransitions"] += 1
        return await kube.replace(LEASES, "default", "l", new)

    return write


def reread(kube: KubeClient) -> Any:
    async def get(current: KubeObject) -> KubeObject:
        return await kube.get(LEASES, "default", "l")

    return get


def puts(api: KubeApiDouble) -> int:
    return sum(1 for r in api.requests if r.method == "PUT")


async def test_a_stale_copy_is_reread_and_the_change_applied_once(
    kube: KubeClient, kube_api: KubeApiDouble
) -> None:
    stale = await kube.create(LEASES, "default", lease("l"))
    fresh = await kube.get(LEASES, "default", "l")
    await kube.replace(LEASES, "default", "l", {**fresh, "spec": {"leaseTransitions": 5}})

    written = await kube.conflicts.update(stale, write=bump(kube), reread=reread(kube))
    assert written["spec"]["leaseTransitions"] == 6  # applied to the fresh copy, once
    assert puts(kube_api) == 3  # the other writer, the stale attempt, the retry


async def test_it_gives_up_after_its_limit_with_the_last_conflict_as_cause(
    kube_api: KubeApiDouble,
) -> None:
    async with kube_client(kube_api, KubeSettings(conflict_retries=3)) as kube:
        obj = await kube.create(LEASES, "default", lease("l"))
        kube_api.inject(method="PUT", path_regex="/leases/l$", status=409, times=None)
        with pytest.raises(KubeConflict, match="Lease l kept changing; gave up after 3") as info:
            await kube.conflicts.update(obj, write=bump(kube), reread=reread(kube), what="Lease l")
    assert isinstance(info.value.__cause__, KubeConflict)
    assert "injected failure" in str(info.value.__cause__)
    assert puts(kube_api) == 3


async def test_only_the_errors_named_are_retried(kube: KubeClient, kube_api: KubeApiDouble) -> None:
    calls = 0

    async def attempt() -> KubeObject:
        nonlocal calls
        calls += 1
        return await kube.get(LEASES, "default", "absent")

    with pytest.raises(KubeNotFound):
        await kube.conflicts.run(attempt)
    assert calls == 1
    with pytest.raises(KubeConflict):
        await ConflictRetry(limit=2).run(attempt, also=(KubeNotFound,))
    assert calls == 3


def test_the_limit_is_at_least_one_and_the_default_is_the_settings_one() -> None:
    with pytest.raises(ValueError):
        ConflictRetry(limit=0)
    assert ConflictRetry().limit == KubeSettings().conflict_retries
