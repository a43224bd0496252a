"""Benchmark: ``assay scan`` end to end, as a CI job runs it.

Usage::

    .venv/bin/python bench/bench_scan.py                    # 2,000 workloads, best of 3
    .venv/bin/python bench/bench_scan.py --workloads 5000 --repeat 1 --json

Writes ``--workloads`` applications (six objects each, ``bench_manifests.workload``) into a
temporary directory and times the installed ``assay`` command (a fresh process each pass,
as CI starts it) over it: ``assay scan DIR -o json`` (every check, the report on stdout,
thrown away) and, for the start-up cost, ``assay scan`` of one small file with one check.
It prints the best of ``--repeat`` passes of each (wall time, and the process's CPU time,
steadier on a shared machine), the number of results and findings, and
with ``--json`` one JSON object as its last line.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench_manifests import write_workloads

SMALL = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: shop}
data: {a: b}
"""


def assay_command() -> str:
    found = shutil.which("assay", path=str(Path(sys.executable).parent))
    if found is None:
        raise SystemExit("the assay command is not installed next to this Python")
    return found


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_scan(args: Sequence[str]) -> tuple[float, float, dict[str, Any]]:
    """Wall and CPU seconds of one ``assay`` process, and its report."""
    began, cpu = time.perf_counter(), _children_cpu()
    done = subprocess.run(args, capture_output=True, check=False)
    elapsed, cpu = time.perf_counter() - began, _children_cpu() - cpu
    if done.returncode not in (0, 2):
        raise SystemExit(f"{' '.join(args)} exited {done.returncode}: {done.stderr.decode()}")
    report: dict[str, Any] = json.loads(done.stdout)
    return elapsed, cpu, report


def best_of(repeat: int, args: Sequence[str]) -> tuple[float, float, dict[str, Any]]:
    runs = [timed_scan(args) for _ in range(repeat)]
    return min(runs, key=lambda r: r[0])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--workloads", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="end with a JSON line of figures")
    options = parser.parse_args(argv)
    assay = assay_command()
    with tempfile.TemporaryDirectory(prefix="assay-bench-scan-") as work:
        root = Path(work) / "manifests"
        root.mkdir()
        size = write_workloads(root, options.workloads)
        small = Path(work) / "small.yaml"
        small.write_text(SMALL)
        startup_s, startup_cpu_s, _ = best_of(
            options.repeat, [assay, "scan", str(small), "--check", "OPS-005", "-o", "json"]
        )
        scan_s, scan_cpu_s, report = best_of(
            options.repeat, [assay, "scan", str(root), "-o", "json"]
        )
    counts = report["summary"]["counts"]
    figures = {
        "workloads": options.workloads,
        "objects": options.workloads * 6,
        "bytes": size,
        "checks": report["run"].get("check_count", 0),
        "results": counts.get("total", 0),
        "findings": len(report["findings"]),
        "scan_s": round(scan_s, 2),
        "scan_cpu_s": round(scan_cpu_s, 2),
        "startup_s": round(startup_s, 2),
        "startup_cpu_s": round(startup_cpu_s, 2),
    }
    print(
        f"assay scan of {options.workloads:,} workloads ({figures['objects']:,} objects, "
        f"{size / 1e6:.1f} MB): {scan_s:.2f} s ({scan_cpu_s:.2f} s CPU), "
        f"{figures['checks']} checks, "
        f"{figures['results']:,} results, {figures['findings']:,} findings"
    )
    print(
        f"assay scan of one small file with one check (start-up): {startup_s:.2f} s "
        f"({startup_cpu_s:.2f} s CPU)"
    )
    if options.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
