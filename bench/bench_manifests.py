"""Benchmark: reading manifest directories, fast on realistic input and bounded on hostile input.

Usage::

    .venv/bin/python bench/bench_manifests.py                 # speed and memory, all cases
    .venv/bin/python bench/bench_manifests.py --workloads 5000 --repeat 5 --json

Speed: ``--workloads`` applications (default 2,000), one multi-document YAML file each, in a
temporary directory, as a Helm chart or a GitOps repository would render them: a Deployment
with probes, resources, env and volumes, its Service, ServiceAccount, ConfigMap,
HorizontalPodAutoscaler and PodDisruptionBudget (six objects, ~190 lines per file). It prints
the best of ``--repeat`` passes of ``read_manifests`` over the directory next to plain
``yaml.load_all`` with the C loader over the same files (the floor: parsing with no
checks at all).

Memory: each hostile case runs ``read_manifests`` in a fresh interpreter under an address-space
cap (``--memory-cap``, MiB), which prints its peak RSS (``VmHWM``), what it loaded and how
it ended (``ok``, an exception's name, or the signal that killed it):

- ``alias-bomb-N``: a 1 KB YAML document whose ``metadata.name`` is an alias standing for
  10**N strings ("billion laughs"), next to a valid file;
- ``docs-100k``: one file of 100,000 small documents that are not Kubernetes objects;
- ``docs-100k-split``: the same spread over 100 files.

The last line is a JSON object of every figure when asked with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from cluster import cpu_autoscaling

from assay.server.inventory.manifests import read_manifests

HOSTILE_CASES = ("alias-bomb-6", "alias-bomb-7", "alias-bomb-8", "docs-100k", "docs-100k-split")
VALID = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: valid\n  namespace: shop\n"


def workload(app: int) -> list[dict[str, Any]]:
    """The six objects of one application, shaped like a chart's rendered output."""
    ns = f"team-{app % 40}"
    name = f"app-{app}"
    labels = {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/instance": f"{name}-prod",
        "app.kubernetes.io/version": f"1.{app % 9}.{app % 5}",
        "app.kubernetes.io/managed-by": "Helm",
        "helm.sh/chart": f"{name}-0.{app % 7}.0",
    }
    selector = {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": f"{name}-prod"}

    def meta(**extra: Any) -> dict[str, Any]:
        return {"name": name, "namespace": ns, "labels": labels, **extra}

    container = {
        "name": "app",
        "image": f"registry.example.com/team-{app % 40}/{name}:1.{app % 9}.{app % 5}",
        "imagePullPolicy": "IfNotPresent",
        "args": ["--config=/etc/app/config.yaml", f"--port={8000 + app % 100}"],
        "ports": [
            {"name": "http", "containerPort": 8080, "protocol": "TCP"},
            {"name": "metrics", "containerPort": 9090, "protocol": "TCP"},
        ],
        "env": [
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {
                "name": "DB_PASSWORD",
                "valueFrom": {"secretKeyRef": {"name": f"{name}-db", "key": "password"}},
            },
        ],
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "1", "memory": "256Mi"},
        },
        "livenessProbe": {
            "httpGet": {"path": "/healthz", "port": "http"},
            "initialDelaySeconds": 10,
            "periodSeconds": 10,
        },
        "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 5},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "config", "mountPath": "/etc/app"},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    pod_spec = {
        "serviceAccountName": name,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "fsGroup": 10001},
        "containers": [container],
        "volumes": [
            {"name": "config", "configMap": {"name": f"{name}-config"}},
            {"name": "tmp", "emptyDir": {}},
        ],
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": selector},
            }
        ],
    }
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta(annotations={"deployment.kubernetes.io/revision": "3"}),
            "spec": {
                "replicas": 2 + app % 3,
                "revisionHistoryLimit": 5,
                "selector": {"matchLabels": selector},
                "template": {
                    "metadata": {"labels": labels, "annotations": {"checksum/config": "ab" * 32}},
                    "spec": pod_spec,
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta(),
            "spec": {
                "type": "ClusterIP",
                "selector": selector,
                "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
            },
        },
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta()},
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta(name=f"{name}-config"),
            "data": {"config.yaml": f"listen: :8080\nupstream: http://{name}-backend\n"},
        },
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": meta(),
            "spec": cpu_autoscaling(name),
        },
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": meta(),
            "spec": {"minAvailable": 1, "selector": {"matchLabels": selector}},
        },
    ]


def write_workloads(root: Path, count: int) -> int:
    """Write ``count`` application files under ``root``; the number of bytes written."""
    total = 0
    for app in range(count):
        text = yaml.safe_dump_all(workload(app), sort_keys=False, default_flow_style=False)
        path = root / f"team-{app % 40}" / f"app-{app}.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
        total += len(text)
    return total


def alias_bomb(levels: int) -> str:
    """A ConfigMap whose name is an alias that expands to 10**levels strings."""
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels):
        refs = ",".join([f"*l{level - 1}"] * 10)
        lines.append(f"l{level}: &l{level} [{refs}]")
    lines += ["apiVersion: v1", "kind: ConfigMap", "metadata:", f"  name: *l{levels - 1}"]
    return "\n".join(lines) + "\n"


def write_hostile(case: str, root: Path) -> None:
    (root / "0-valid.yaml").write_text(VALID)
    if case.startswith("alias-bomb-"):
        (root / "bomb.yaml").write_text(alias_bomb(int(case.rsplit("-", 1)[1])))
    elif case == "docs-100k":
        (root / "docs.yaml").write_text("".join(f"---\nnote: {i}\n" for i in range(100_000)))
    elif case == "docs-100k-split":
        for part in range(100):
            text = "".join(f"---\nnote: {i}\n" for i in range(1000))
            (root / f"docs-{part:03}.yaml").write_text(text)
    else:
        raise SystemExit(f"unknown case {case!r}")


def peak_rss_kib() -> int:
    """This process's peak resident set size in KiB.

    Linux's VmHWM belongs to the address space, which ``exec`` replaces; ``ru_maxrss`` would
    also count the parent's pages at the time it forked this interpreter.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(case: str, root: Path, memory_cap_mib: int) -> None:
    """Run one hostile case in this (fresh) interpreter and print its figures as JSON."""
    cap = memory_cap_mib * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    started = time.perf_counter()
    outcome, objects, diagnostics, diagnostic_chars = "ok", 0, 0, 0
    try:
        found, problems = read_manifests(root)
        objects, diagnostics = len(found), len(problems)
        diagnostic_chars = sum(len(str(d)) for d in problems)
    except BaseException as exc:  # the point is to report how it ended, whatever it was
        outcome = type(exc).__name__
    figures = {
        "case": case,
        "outcome": outcome,
        "seconds": round(time.perf_counter() - started, 3),
        "objects": objects,
        "diagnostics": diagnostics,
        "diagnostic_chars": diagnostic_chars,
        "peak_rss_mib": round(peak_rss_kib() / 1024, 1),
    }
    print(json.dumps(figures))


def run_hostile(case: str, workdir: Path, memory_cap_mib: int) -> dict[str, Any]:
    root = workdir / case
    root.mkdir()
    write_hostile(case, root)
    command = [sys.executable, __file__, "--child", case, str(root)]
    command += ["--memory-cap", str(memory_cap_mib)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode < 0:
        return {"case": case, "outcome": f"killed by signal {-done.returncode}"}
    if done.returncode != 0 or not done.stdout.strip():
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        return {"case": case, "outcome": f"exit {done.returncode}: {tail[0]}"}
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def best_of(repeat: int, action: Any) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - started)
    return best, result


def plain_load(root: Path) -> int:
    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    count = 0
    for path in sorted(root.rglob("*.yaml")):
        count += sum(1 for doc in yaml.load_all(path.read_bytes(), Loader=loader) if doc)
    return count


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--memory-cap", type=int, default=4096, help="MiB per hostile case")
    parser.add_argument("--cases", nargs="*", default=list(HOSTILE_CASES))
    parser.add_argument("--json", action="store_true", help="end with a JSON line of figures")
    parser.add_argument("--child", nargs=2, metavar=("CASE", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], Path(args.child[1]), args.memory_cap)
        return

    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="assay-bench-manifests-") as workdir:
        root = Path(workdir, "workloads")
        root.mkdir()
        size = write_workloads(root, args.workloads)
        seconds, (objects, diagnostics) = best_of(args.repeat, lambda: read_manifests(root))
        floor, plain_objects = best_of(args.repeat, lambda: plain_load(root))
        figures["speed"] = {
            "workloads": args.workloads,
            "bytes": size,
            "objects": len(objects),
            "diagnostics": len(diagnostics),
            "read_manifests_s": round(seconds, 3),
            "objects_per_s": round(len(objects) / seconds),
            "plain_csafeloader_s": round(floor, 3),
        }
        print(
            f"{args.workloads:,} workloads, {size / 1e6:.1f} MB, {len(objects):,} objects "
            f"({len(diagnostics)} diagnostics): read_manifests {seconds:.3f} s "
            f"({len(objects) / seconds:,.0f} objects/s); plain yaml.load_all "
            f"{floor:.3f} s ({plain_objects:,} documents)"
        )
        hostile = []
        for case in args.cases:
            result = run_hostile(case, Path(workdir), args.memory_cap)
            hostile.append(result)
            shown = ", ".join(f"{k} {v}" for k, v in result.items() if k != "case")
            print(f"{case}: {shown}")
        figures["hostile"] = hostile
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
