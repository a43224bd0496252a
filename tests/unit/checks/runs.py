"""Running one built-in check the way a server does, for the catalogue's unit tests: over
objects loaded as manifests or as a live inventory, over an inventory already loaded, or
live from the Kubernetes API test double through the server's own client and loader.

    findings = run("COST-002", objects, "max_limit_ratio: 8")    # params via a policy
    statuses(findings)["web"]                                     # -> Status, by object name
    container_statuses(findings)[("web", "app")]                  # by (name, container)
    async with cluster(objects, "OPS-004", version="v1.36.2") as inventory: ...   # live
    fixture_objects("REL-025", "failure.yaml")    # a fixture file's objects, to run live

Parameters go through a real policy file (``parse_policy``), so the tests also show the
keys and value types a user writes. Results about no object (a cluster-wide one, or a
check's single skipped result) are keyed ``""``.
"""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from assay.server.checks import builtin_registry
from assay.server.checks.kit import Check, Finding
from assay.server.checks.kit.catalogue import Catalogue
from assay.server.checks.kit.evaluate import LIVE_ONLY_MESSAGE, evaluate
from assay.server.checks.kit.policy import parse_policy
from assay.server.checks.kit.registry import required_groups, required_kinds
from assay.server.checks.operations.versions import minor_of
from assay.server.core.types import Source, Status
from assay.server.inventory import Inventory, read_manifests
from assay.server.inventory.live import load_live_inventory
from assay.server.inventory.raw import KubeObject, as_mapping
from tests.fixtures.fresh_cluster import serve_builtin_apis
from tests.integration.kube.fixtures import kube_client
from tests.kubeapi import KubeApiDouble

REGISTRY = builtin_registry()
FIXTURES = Path(__file__).parents[2] / "fixtures" / "checks"
"""The fixture folders, one per check (tests/fixtures/checks/<ID>/)."""
TEST_MARK = "assay.test/"

Row = tuple[Status, str, str, str]
"""(status, object name or "", container, message)"""


# -- parameters ---------------------------------------------------------------------------


def policy_params(check_id: str, params_yaml: str = "") -> Any:
    """The parameters a policy file gives ``check_id``: ``params_yaml`` is the mapping under
    ``checks.<id>.params``, as YAML (the defaults when empty). Raises PolicyError as a
    server does on a bad value."""
    if not params_yaml:
        return REGISTRY.get(check_id).definition.default_params()
    body = textwrap.indent(textwrap.dedent(params_yaml).strip(), " " * 6)
    text = f"checks:\n  {check_id}:\n    params:\n{body}\n"
    return catalogue(text).params(REGISTRY.get(check_id))


def catalogue(policy_yaml: str) -> Catalogue:
    """The built-in catalogue as a whole policy file (YAML) configures it."""
    policy = parse_policy(textwrap.dedent(policy_yaml), REGISTRY, source="policy.yaml")
    return Catalogue(REGISTRY, policy)


def _params(check_id: str, policy: str, params: object | None) -> object | None:
    assert not (policy and params is not None), "give a policy or params, not both"
    return policy_params(check_id, policy) if policy else params


# -- fixture files ------------------------------------------------------------------------


def strip_test_marks(obj: KubeObject) -> dict[str, str]:
    """Remove and return the ``assay.test/*`` annotations of a fixture object."""
    annotations = as_mapping(as_mapping(obj.get("metadata")).get("annotations"))
    marks = {k: str(v) for k, v in annotations.items() if k.startswith(TEST_MARK)}
    if marks and isinstance(annotations, dict):
        for key in marks:
            del annotations[key]
    return marks


def fixture_objects(check_id: str, name: str) -> list[dict[str, Any]]:
    """The objects of the fixture file ``name`` of ``check_id``, without their test marks,
    for tests that run them another way (live, or with parameters)."""
    objects, diagnostics = read_manifests(FIXTURES / check_id / name)
    assert not diagnostics, [str(d) for d in diagnostics]
    for obj in objects:
        strip_test_marks(obj)
    return objects


# -- running ------------------------------------------------------------------------------


def run_on(
    check_id: str, inventory: Inventory, policy: str = "", *, params: object | None = None
) -> list[Finding]:
    """``check_id`` over ``inventory``, with ``policy`` (see :func:`policy_params`), given
    ``params``, or the defaults."""
    return evaluate(REGISTRY.get(check_id), inventory, params=_params(check_id, policy, params))


def run(
    check_id: str,
    objects: Iterable[Mapping[str, Any]],
    policy: str = "",
    *,
    params: object | None = None,
    source: Source = Source.MANIFESTS,
    server_version: str | None = None,
) -> list[Finding]:
    """``check_id`` over ``objects`` loaded as ``source`` (manifests by default)."""
    inventory = Inventory.from_objects(
        [dict(o) for o in objects], source=source, server_version=server_version
    )
    return run_on(check_id, inventory, policy, params=params)


def manifest_inventory(objects: Iterable[Mapping[str, Any]]) -> Inventory:
    return Inventory.from_objects([dict(o) for o in objects], source=Source.MANIFESTS)


async def live_inventory(
    kube_api: KubeApiDouble,
    objects: Iterable[Mapping[str, Any]],
    *,
    checks: Sequence[Check],
    page_size: int = 500,
) -> Inventory:
    """Seed ``objects`` into the double and load what ``checks`` read, over HTTP with the
    server's own Kubernetes client, the way a run against a cluster loads them."""
    kube_api.seed([dict(o) for o in objects])
    async with kube_client(kube_api) as kube:
        return await load_live_inventory(
            kube,
            kinds=required_kinds(checks),
            groups=required_groups(checks),
            page_size=page_size,
        )


async def run_live(
    kube_api: KubeApiDouble, check_id: str, objects: Iterable[Mapping[str, Any]]
) -> list[Finding]:
    """``check_id`` over ``objects`` served by ``kube_api`` and loaded live."""
    inventory = await live_inventory(kube_api, objects, checks=[REGISTRY.get(check_id)])
    return run_on(check_id, inventory)


@asynccontextmanager
async def cluster(
    objects: Iterable[Mapping[str, Any]],
    *check_ids: str,
    version: str | None = None,
    crds: Iterable[dict[str, Any]] = (),
    builtin_apis: bool = False,
) -> AsyncIterator[Inventory]:
    """A live inventory of ``objects`` for ``check_ids``, from a double whose /version says
    ``version`` (the double's own v1.31.0 by default), serving ``crds``."""
    info = None if version is None else {"gitVersion": version, "minor": str(minor_of(version))}
    async with KubeApiDouble(version_info=info) as api:
        if builtin_apis:
            serve_builtin_apis(api)
        for definition in crds:
            api.register_crd(definition)
        checks = [REGISTRY.get(i) for i in check_ids]
        yield await live_inventory(api, objects, checks=checks)
    assert not api.internal_errors


# -- reading the results ------------------------------------------------------------------


def _name(finding: Finding) -> str:
    return finding.object.name if finding.object else ""


def only(findings: Sequence[Finding]) -> Finding:
    """The one result of a run (the assertion shows them all otherwise)."""
    assert len(findings) == 1, [(f.status, f.object, f.container, f.message) for f in findings]
    return findings[0]


def by_name(findings: Sequence[Finding]) -> dict[str, Finding]:
    """Findings by object name."""
    return {_name(f): f for f in findings}


def statuses(findings: Sequence[Finding]) -> dict[str, Status]:
    """Status by object name."""
    return {_name(f): f.status for f in findings}


def outcomes(findings: Sequence[Finding]) -> dict[str, tuple[Status, str]]:
    """(status, message) by object name."""
    return {_name(f): (f.status, f.message) for f in findings}


def container_statuses(findings: Sequence[Finding]) -> dict[tuple[str, str], Status]:
    """Status by (object name, container); the container is ``""`` for a whole object."""
    return {(_name(f), f.container): f.status for f in findings}


def rows(findings: Sequence[Finding]) -> list[Row]:
    """Each result as a plain (status, object name, container, message) tuple."""
    return [(f.status, _name(f), f.container, f.message) for f in findings]


def assert_skipped_offline(check_id: str, objects: Iterable[Mapping[str, Any]]) -> None:
    """A live-status check gives its single skipped result over manifests."""
    finding = only(run(check_id, objects))
    assert (finding.status, finding.object) == (Status.SKIPPED, None)
    assert finding.message == LIVE_ONLY_MESSAGE.format(codes="L", what="live status")
