"""Benchmark: Assay against checkov on the same generated Kubernetes manifests.

Usage::

    .venv/bin/python bench/bench_checkov.py --json
    .venv/bin/python bench/bench_checkov.py --workloads 500 --checkov-version '3.*'

checkov is not a dependency of Assay: the script installs it (``pip install
'checkov==3.*'``) into a virtual environment of its own under the user's cache directory
(``--cache-dir``; reused by later runs) and says so in one line if that fails.

It writes ``--workloads`` apps (default 2,000) as a repository holds them (bench/cluster.py:
Deployments, StatefulSets, DaemonSets, Jobs and CronJobs, each with its Services,
ConfigMaps, Secrets, Ingresses, HPAs or PDBs, and per namespace a NetworkPolicy and RBAC)
into YAML files of 50 documents, then times, wall clock, from a cold start:

- ``checkov -d DIR --framework kubernetes --skip-download -o json``;
- Assay the way a user runs it: ``assay scan DIR`` when the CLI has that command, else an
  ``assay serve`` started for the purpose (its start-up counted) and ``assay run --path
  DIR`` against it (``assay_mode`` says which);
- Assay's engine in this process: loading the manifests and running the whole catalogue
  (``engine_s``, of which ``load_s``).

and the ratios (checkov's time over each). Then it counts, for the controls both tools
have, the workloads each finds failing: privileged containers (CKV_K8S_16 / SEC-001),
may run as root (CKV_K8S_23 / SEC-003), CPU or memory requests missing (CKV_K8S_10, 12 /
PERF-001), liveness and readiness probes missing (CKV_K8S_8, 9 / REL-002, REL-001), image
tag latest or none (CKV_K8S_14 / REL-013), so a reader sees that they find the same things.
With ``--json`` the last line is one JSON object of all of it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import platformdirs
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_queries import free_port, ready
from cluster import manifest_objects

from assay.server.checks import builtin_registry
from assay.server.checks.kit.evaluate import evaluate
from assay.server.core.types import Status
from assay.server.inventory.manifests import load_manifests

CONTROLS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # control: (checkov ids, Assay ids); a workload counts once per control
    "privileged": (("CKV_K8S_16",), ("SEC-001",)),
    "root": (("CKV_K8S_23",), ("SEC-003",)),
    "requests": (("CKV_K8S_10", "CKV_K8S_12"), ("PERF-001",)),
    "liveness probe": (("CKV_K8S_8",), ("REL-002",)),
    "readiness probe": (("CKV_K8S_9",), ("REL-001",)),
    "image tag": (("CKV_K8S_14",), ("REL-013",)),
}
WORKLOADS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod"})
PER_FILE = 50
ASSAY = Path(sys.executable).with_name("assay")


class SetupError(Exception):
    """Something the benchmark needs is not there; the message says what to do."""


# -- checkov in a venv of its own ---------------------------------------------------------------


def checkov(cache: Path, version: str) -> Path:
    """The checkov executable of a virtual environment under ``cache``, installed once."""
    venv = cache / f"checkov-{version.removesuffix('.*').replace('*', 'x')}"
    executable = venv / "bin" / "checkov"
    if executable.exists():
        return executable
    print(f"installing checkov=={version} into {venv} (once)", file=sys.stderr)
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", "--clear", str(venv)],
            check=True,
            capture_output=True,
            text=True,
        )
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", f"checkov=={version}"],
            check=True,
            capture_output=True,
            text=True,
        )
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(venv, ignore_errors=True)
        lines = [
            line
            for line in (exc.stderr or exc.stdout or "").splitlines()
            if line.strip() and not line.startswith("WARNING:")
        ]
        errors = [line for line in lines if "ERROR" in line] or lines
        reason = errors[-1].strip() if errors else f"exit status {exc.returncode}"
        raise SetupError(
            f"could not install checkov=={version} into {venv}: {reason} "
            "(it needs PyPI, or a pip configuration that reaches a mirror)"
        ) from None
    if not executable.exists():
        raise SetupError(f"checkov=={version} installed into {venv} but has no executable")
    return executable


def run_checkov(executable: Path, directory: Path) -> tuple[float, dict[str, set[str]]]:
    """checkov's wall time and, per check id, the resources it found failing."""
    command = [
        str(executable),
        "-d",
        str(directory),
        "--framework",
        "kubernetes",
        "--skip-download",
        "-o",
        "json",
        "--quiet",
    ]
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - began
    if done.returncode not in (0, 1):  # 1: failed checks were found
        raise SetupError(f"checkov exited {done.returncode}: {done.stderr.strip()[-500:]}")
    report = json.loads(done.stdout)
    reports = report if isinstance(report, list) else [report]
    failing: dict[str, set[str]] = defaultdict(set)
    for one in reports:
        for item in one.get("results", {}).get("failed_checks", []):
            failing[item["check_id"]].add(_checkov_resource(item["resource"]))
    return elapsed, failing


def _checkov_resource(resource: str) -> str:
    """checkov names a resource ``Kind.namespace.name`` (and appends ``.default`` to some):
    the workload as ``Kind/namespace/name``."""
    kind, _, rest = resource.partition(".")
    namespace, _, name = rest.partition(".")
    return f"{kind}/{namespace}/{name}"


# -- Assay --------------------------------------------------------------------------------------


def has_scan() -> bool:
    """Whether this Assay's CLI has ``assay scan`` (the embedded server)."""
    done = subprocess.run([str(ASSAY), "scan", "--help"], capture_output=True, text=True)
    return done.returncode == 0


def run_scan(directory: Path) -> float:
    began = time.perf_counter()
    done = subprocess.run([str(ASSAY), "scan", str(directory)], capture_output=True, text=True)
    elapsed = time.perf_counter() - began
    if done.returncode not in (0, 2):  # 2: failing results (with --fail-on)
        raise SetupError(f"assay scan exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return elapsed


@contextmanager
def _served(database: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    command = [
        str(ASSAY),
        "serve",
        "--listen",
        f"127.0.0.1:{port}",
        "--database-url",
        f"sqlite:///{database}",
        "--health-port",
        "0",
        "--metrics-port",
        "0",
    ]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdout=log, stderr=log)
        try:
            yield f"127.0.0.1:{port}", process
        finally:
            process.terminate()
            process.wait(30)
            if process.returncode not in (0, -15):
                log.seek(0)
                tail = log.read().decode(errors="replace").strip()[-500:]
                raise SetupError(f"assay serve exited {process.returncode}: {tail}")


async def _ready(target: str, process: subprocess.Popen[bytes]) -> None:
    """Until the server answers, or it has exited."""
    while True:
        try:
            await ready(target, timeout_s=0.5)
            return
        except grpc.aio.AioRpcError:
            if process.poll() is not None:
                return  # its exit status and log say why, on leaving _served


def run_served(directory: Path, scratch: Path) -> float:
    """``assay serve`` started, ready, then ``assay run --path DIR`` to the run's end."""
    began = time.perf_counter()
    with _served(scratch / "assay.db") as (target, process):
        asyncio.run(_ready(target, process))
        done = subprocess.run(
            [str(ASSAY), "--server", target, "run", "--path", str(directory)],
            capture_output=True,
            text=True,
        )
        elapsed = time.perf_counter() - began
    if done.returncode not in (0, 2):
        raise SetupError(f"assay run exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return elapsed


def run_engine(directory: Path) -> tuple[float, float, dict[str, set[str]]]:
    """The engine in this process: (total, loading, workloads failing per check id)."""
    began = time.perf_counter()
    inventory = load_manifests(directory)
    load_s = time.perf_counter() - began
    failing: dict[str, set[str]] = defaultdict(set)
    for check in builtin_registry().all():
        for finding in evaluate(check, inventory):
            ref = finding.object
            if finding.status is Status.FAILING and ref is not None:
                failing[check.id].add(f"{ref.kind}/{ref.namespace}/{ref.name}")
    return time.perf_counter() - began, load_s, failing


# -- the comparison -----------------------------------------------------------------------------


def write_manifests(directory: Path, workloads: int) -> int:
    objects = manifest_objects(workloads)
    for start in range(0, len(objects), PER_FILE):
        path = directory / f"apps-{start // PER_FILE:04d}.yaml"
        path.write_text(yaml.safe_dump_all(objects[start : start + PER_FILE], sort_keys=False))
    return len(objects)


def findings(
    checkov_failing: dict[str, set[str]], assay_failing: dict[str, set[str]]
) -> dict[str, dict[str, int]]:
    """Per control, the workloads each tool finds failing, and how many both do."""
    table = {}
    for control, (checkov_ids, assay_ids) in CONTROLS.items():
        theirs = {r for c in checkov_ids for r in checkov_failing.get(c, set())}
        ours = {r for c in assay_ids for r in assay_failing.get(c, set())}
        theirs = {r for r in theirs if r.split("/")[0] in WORKLOADS}
        table[control] = {"checkov": len(theirs), "assay": len(ours), "both": len(theirs & ours)}
    return table


def machine() -> str:
    return f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", type=int, default=2000)
    parser.add_argument("--checkov-version", default="3.*")
    parser.add_argument(
        "--cache-dir", type=Path, default=Path(platformdirs.user_cache_dir("assay-bench"))
    )
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    args = parser.parse_args(argv)
    try:
        executable = checkov(args.cache_dir, args.checkov_version)
        with tempfile.TemporaryDirectory(prefix="assay-bench-checkov-") as scratch_dir:
            scratch = Path(scratch_dir)
            directory = scratch / "manifests"
            directory.mkdir()
            objects = write_manifests(directory, args.workloads)
            checkov_s, checkov_failing = run_checkov(executable, directory)
            scan = has_scan()
            assay_s = run_scan(directory) if scan else run_served(directory, scratch)
            engine_s, load_s, assay_failing = run_engine(directory)
    except SetupError as exc:
        print(f"bench_checkov: {exc}", file=sys.stderr)
        return 1
    version = subprocess.run(
        [str(executable), "--version"], capture_output=True, text=True
    ).stdout.strip()
    table = findings(checkov_failing, assay_failing)
    figures: dict[str, Any] = {
        "workloads": args.workloads,
        "objects": objects,
        "checkov_version": version,
        "checkov_s": round(checkov_s, 3),
        "assay_mode": "scan" if scan else "serve+run",
        "assay_s": round(assay_s, 3),
        "ratio": round(checkov_s / assay_s, 1),
        "engine_s": round(engine_s, 3),
        "load_s": round(load_s, 3),
        "engine_ratio": round(checkov_s / engine_s, 1),
        "findings": table,
        "machine": machine(),
    }
    mode = "assay scan" if scan else "assay serve + assay run"
    print(f"{args.workloads:,} workloads, {objects:,} objects; checkov {version}; {machine()}")
    print(f"checkov                 {checkov_s:8.2f} s")
    print(f"{mode:24}{assay_s:8.2f} s   checkov / Assay x{checkov_s / assay_s:.1f}")
    print(f"engine in process       {engine_s:8.2f} s   (loading {load_s:.2f} s)   "
          f"x{checkov_s / engine_s:.1f}")  # fmt: skip
    print("\nworkloads failing       checkov    assay     both")
    for control, counts in table.items():
        print(f"{control:22}{counts['checkov']:>9}{counts['assay']:>9}{counts['both']:>9}")
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
