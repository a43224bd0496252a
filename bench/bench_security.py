"""Benchmark: the security checks over inventories that carry what they read.

Usage::

    .venv/bin/python bench/bench_security.py                  # 10,000 and 50,000 objects
    .venv/bin/python bench/bench_security.py --sizes 10000 50000 --json

The generated cluster of the benchmarks (cluster.py) has one Role, RoleBinding and
NetworkPolicy per namespace, too few for the cross-object security checks to chew on. This
benchmark takes about three quarters of its objects from that cluster and fills the rest
with what a security-minded cluster holds, per app: a ServiceAccount, a NetworkPolicy with
pod, namespace and matchExpressions peers (one in seventeen with a typo), an Ingress on
every fifth app, and per namespace a Namespace with Pod Security labels, a default-deny
policy on every other namespace, Roles and RoleBindings (ServiceAccount subjects from other
namespaces, RoleBindings to ClusterRoles), plus aggregated ClusterRoles and
ClusterRoleBindings cluster-wide.

For each size it prints every SEC check's best warm time over ``--repeat`` passes (garbage
collector paused, as bench_assessment does), its share of the warm time of all built-in
checks over the same inventory, and how each time grows from one size to the next (linear
growth is the size ratio). With ``--json`` the last line is a JSON object of the figures.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from cluster import NAMESPACES, cluster_objects

from assay.server.checks import builtin_registry
from assay.server.checks.kit.evaluate import evaluate
from assay.server.checks.kit.registry import Registry
from assay.server.core.types import Source
from assay.server.inventory.model import Inventory

RBAC = "rbac.authorization.k8s.io"
COUNTED = ("NetworkPolicy", "RoleBinding", "ClusterRoleBinding", "ServiceAccount", "Ingress")
BASE_SHARE = 0.75
CLUSTER_ROLES = 60


def _namespace_objects(n: int) -> list[dict[str, Any]]:
    ns = f"team-{n}"
    level = ("restricted", "baseline", "privileged", "")[n % 4]
    labels = {"team": f"team-{n % 40}"}
    if level:
        labels["pod-security.kubernetes.io/enforce"] = level
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}},
        {
            "apiVersion": f"{RBAC}/v1",
            "kind": "Role",
            "metadata": {"name": "deployer", "namespace": ns},
            "rules": [
                {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "patch"]},
                {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]},
            ],
        },
        {
            "apiVersion": f"{RBAC}/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "deployer", "namespace": ns},
            "subjects": [
                {"kind": "ServiceAccount", "name": "deployer", "namespace": "ci"},
                {"kind": "ServiceAccount", "name": f"app-{n}"},
            ],
            "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": "deployer"},
        },
        {
            "apiVersion": f"{RBAC}/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "developers", "namespace": ns},
            "subjects": [{"kind": "Group", "name": f"team-{n}-developers"}],
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": f"aggregate-{n % 6}"},
        },
    ]
    if n % 2 == 0:
        objects.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": "default-deny", "namespace": ns},
                "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
            }
        )
    return objects


def _cluster_objects() -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for i in range(CLUSTER_ROLES):
        verbs = ["*"] if i % 10 == 0 else ["get", "list", "watch"]
        resource = ("secrets", "configmaps", "pods", "services", "deployments")[i % 5]
        objects.append(
            {
                "apiVersion": f"{RBAC}/v1",
                "kind": "ClusterRole",
                "metadata": {"name": f"piece-{i}", "labels": {"aggregate-to": f"a-{i % 6}"}},
                "rules": [{"apiGroups": [""], "resources": [resource], "verbs": verbs}],
            }
        )
    for i in range(6):
        selector = {
            "matchExpressions": [
                {"key": "aggregate-to", "operator": "In", "values": [f"a-{i}", f"a-{(i + 1) % 6}"]}
            ]
        }
        objects.append(
            {
                "apiVersion": f"{RBAC}/v1",
                "kind": "ClusterRole",
                "metadata": {"name": f"aggregate-{i}"},
                "aggregationRule": {"clusterRoleSelectors": [selector]},
                "rules": [],
            }
        )
        objects.append(
            {
                "apiVersion": f"{RBAC}/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": f"aggregate-{i}"},
                "subjects": [{"kind": "Group", "name": f"platform-{i}"}],
                "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": f"aggregate-{i}"},
            }
        )
    return objects


def _app_objects(app: int) -> list[dict[str, Any]]:
    ns, name = f"team-{app % NAMESPACES}", f"app-{app}"
    target = name if app % 17 else f"{name}-typo"
    peer_team = f"team-{(app + 1) % 40}"
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": ns},
            "automountServiceAccountToken": app % 2 == 0,
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": ns},
            "spec": {
                "podSelector": {"matchLabels": {"app": target}},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [
                    {
                        "from": [
                            {"podSelector": {"matchLabels": {"app": f"app-{app + NAMESPACES}"}}},
                            {
                                "namespaceSelector": {"matchLabels": {"team": peer_team}},
                                "podSelector": {
                                    "matchExpressions": [
                                        {"key": "app.kubernetes.io/version", "operator": "Exists"}
                                    ]
                                },
                            },
                        ]
                    }
                ],
                "egress": [
                    {
                        "to": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                                }
                            }
                        ],
                        "ports": [{"protocol": "UDP", "port": 53}],
                    }
                ],
            },
        },
    ]
    objects.append(
        {
            "apiVersion": f"{RBAC}/v1",
            "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": ns},
            "subjects": [{"kind": "ServiceAccount", "name": name}],
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": f"aggregate-{app % 6}"},
        }
    )
    if app % 50 == 0:
        objects.append(
            {
                "apiVersion": f"{RBAC}/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": f"{ns}-{name}"},
                "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ns}],
                "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": f"piece-{app % 60}"},
            }
        )
    if app % 5 == 0:
        host = f"{name}.example.com"
        objects.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {"name": name, "namespace": ns},
                "spec": {
                    "tls": [{"hosts": [host]}] if app % 2 else [],
                    "rules": [{"host": host}],
                },
            }
        )
    return objects


def security_objects(size: int) -> list[dict[str, Any]]:
    """About ``size`` objects: the assessment benchmark's cluster plus security objects."""
    objects = cluster_objects(int(size * BASE_SHARE))
    apps = sum(1 for o in objects if o["kind"] == "Deployment")
    objects.extend(_cluster_objects())
    for n in range(NAMESPACES):
        objects.extend(_namespace_objects(n))
    for app in itertools.cycle(range(apps)):
        if len(objects) >= size:
            break
        objects.extend(_app_objects(app))
    return objects[:size]


def _warm(registry: Registry, inventory: Inventory, repeat: int) -> dict[str, float]:
    for check in registry.all():  # cold pass builds the shared indexes
        evaluate(check, inventory)
    gc.collect()
    gc.disable()
    try:
        best: dict[str, float] = {}
        for _ in range(max(1, repeat)):
            for check in registry.all():
                began = time.perf_counter()
                evaluate(check, inventory)
                elapsed = time.perf_counter() - began
                best[check.id] = min(best.get(check.id, elapsed), elapsed)
        return best
    finally:
        gc.enable()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--repeat", type=int, default=3, help="warm passes per check")
    parser.add_argument("--json", action="store_true", help="end with a JSON line")
    args = parser.parse_args(argv)
    registry = builtin_registry()
    figures: dict[int, dict[str, float]] = {}
    counts: dict[int, dict[str, int]] = {}
    for size in args.sizes:
        objects = security_objects(size)
        inventory = Inventory.from_objects(objects, source=Source.LIVE)
        counts[size] = {kind: len(inventory.objects(kind)) for kind in COUNTED}
        counts[size]["workloads"] = len(inventory.workloads())
        figures[size] = _warm(registry, inventory, args.repeat)
    sizes = args.sizes
    print(f"python {sys.version.split()[0]}, {len(registry)} built-in checks\n")
    print(f"{'':14}" + "".join(f"{s:>12,}" for s in sizes) + "   share    growth")
    for what in (*COUNTED, "workloads"):
        cells = "".join(f"{counts[s][what]:>12,}" for s in sizes)
        growth = "  ".join(
            f"x{counts[b][what] / counts[a][what]:.2f}" if counts[a][what] else "-"
            for a, b in itertools.pairwise(sizes)
        )
        print(f"{what:14}{cells}            {growth}")
    totals = {s: sum(figures[s].values()) for s in sizes}
    print(f"{'all checks':14}" + "".join(f"{totals[s]:>11.3f}s" for s in sizes))
    for check_id in (c for c in sorted(figures[sizes[0]]) if c.startswith("SEC-")):
        values = [figures[s][check_id] for s in sizes]
        share = values[-1] / totals[sizes[-1]] if totals[sizes[-1]] else 0.0
        growth = "  ".join(f"x{b / a:.2f}" if a else "-" for a, b in itertools.pairwise(values))
        print(
            f"{check_id:14}"
            + "".join(f"{v:>11.3f}s" for v in values)
            + f"  {share:6.1%}   {growth}"
        )
    if len(sizes) > 1:
        print(f"\nsize ratio first -> last: x{sizes[-1] / sizes[0]:.1f}")
    if args.json:
        print(
            json.dumps(
                {
                    str(s): {"objects": counts[s], "total_s": totals[s], "checks_s": figures[s]}
                    for s in sizes
                }
            )
        )


if __name__ == "__main__":
    main()
