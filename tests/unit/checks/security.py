"""Helpers for the security check tests: run one built-in check over objects (with default
parameters, parameters from a policy file, or given ones) and build common manifests."""

from __future__ import annotations

import textwrap
from typing import Any

from assay.server.checks import builtin_registry
from assay.server.checks.kit import Finding
from assay.server.checks.kit.catalogue import Catalogue
from assay.server.checks.kit.evaluate import evaluate
from assay.server.checks.kit.policy import parse_policy
from assay.server.core.types import Source, Status
from assay.server.inventory import Inventory

REGISTRY = builtin_registry()


def policy_params(check_id: str, params_yaml: str) -> Any:
    """The parameters a policy file gives ``check_id`` (``params_yaml`` is the mapping under
    ``checks.<id>.params``, as YAML)."""
    body = textwrap.indent(textwrap.dedent(params_yaml).strip(), " " * 6)
    text = f"checks:\n  {check_id}:\n    params:\n{body}\n"
    catalogue = Catalogue(REGISTRY, parse_policy(text, REGISTRY, source="policy.yaml"))
    return catalogue.params(REGISTRY.get(check_id))


def run(
    check_id: str,
    objects: list[dict[str, Any]],
    *,
    params: object | None = None,
    source: Source = Source.MANIFESTS,
) -> list[Finding]:
    inventory = Inventory.from_objects(objects, source=source)
    return evaluate(REGISTRY.get(check_id), inventory, params=params)


def outcome(findings: list[Finding]) -> dict[tuple[str, str], Status]:
    """(object name, container) -> status."""
    return {(f.object.name if f.object else "", f.container): f.status for f in findings}


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, [(f.status, f.object, f.message) for f in findings]
    return findings[0]


def pod(name: str, spec: dict[str, Any], namespace: str = "shop", **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, **meta},
        "spec": spec,
    }


def deployment(
    name: str,
    spec: dict[str, Any],
    namespace: str = "shop",
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    pod_labels = labels or {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": pod_labels},
            "template": {"metadata": {"labels": pod_labels}, "spec": spec},
        },
    }


def container(name: str = "app", **fields: Any) -> dict[str, Any]:
    return {"name": name, "image": "registry.example.com/app:1.0", **fields}
