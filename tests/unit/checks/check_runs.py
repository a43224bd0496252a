"""Running one built-in check in tests: over a live inventory served by the Kubernetes API
test double, over the same objects as manifests, or over an inventory built in memory, with
the parameters a policy file sets."""

from __future__ import annotations

import textwrap
from typing import Any

from assay.server.checks import builtin_registry
from assay.server.checks.kit.catalogue import Catalogue
from assay.server.checks.kit.evaluate import LIVE_ONLY_MESSAGE, evaluate
from assay.server.checks.kit.policy import parse_policy
from assay.server.core.types import Source, Status
from assay.server.inventory import Inventory
from tests.kubeapi import KubeApiDouble
from tests.unit.checks.cluster_state import Obj
from tests.unit.checks.live import live_inventory, manifest_inventory

REGISTRY = builtin_registry()
Outcome = dict[str, tuple[Status, str]]


async def outcomes(kube_api: KubeApiDouble, check_id: str, objects: list[Obj]) -> Outcome:
    """``{object name (or "cluster"): (status, message)}`` of a live run."""
    check = REGISTRY.get(check_id)
    inventory = await live_inventory(kube_api, objects, checks=[check])
    return {
        f.object.name if f.object else "cluster": (f.status, f.message)
        for f in evaluate(check, inventory)
    }


def offline(check_id: str, objects: list[Obj]) -> list[tuple[Status, str, str]]:
    findings = evaluate(REGISTRY.get(check_id), manifest_inventory(objects))
    return [(f.status, f.object.name if f.object else "", f.message) for f in findings]


def assert_skipped_offline(check_id: str, objects: list[Obj]) -> None:
    [(status, name, message)] = offline(check_id, objects)
    assert (status, name) == (Status.SKIPPED, "")
    assert message == LIVE_ONLY_MESSAGE.format(codes="L", what="live status")


def statuses(found: Outcome) -> dict[str, Status]:
    return {name: status for name, (status, _) in found.items()}


def catalogue(text: str) -> Catalogue:
    return Catalogue(REGISTRY, parse_policy(textwrap.dedent(text), REGISTRY, source="p.yaml"))


def results(
    check_id: str,
    objects: list[Obj],
    *,
    source: Source = Source.LIVE,
    params: Any = None,
) -> dict[str, tuple[Status, str]]:
    inventory = Inventory.from_objects(objects, source=source)
    findings = evaluate(REGISTRY.get(check_id), inventory, params=params)
    return {f.object.name if f.object else "cluster": (f.status, f.message) for f in findings}
