"""Peak RSS of `assay serve` for N concurrent manifest runs over M objects each.

Starts `assay serve` in a subprocess (SQLite in a temporary directory), writes M Deployments
as files of 500, starts N StartManifestRuns at once from N threads (a run refused with
RESOURCE_EXHAUSTED is retried after the hint the server gives), follows every run to its end
and reads the server's peak resident set (VmHWM) from /proc. Admission (ASSAY_MAX_RUNS) and
the pools (ASSAY_*_THREADS) come from the environment, so the same command measures other
settings.

    python bench/bench_concurrency.py --runs 8 --objects 15000 --json
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc

from assay.client.api import AssayClient, ClientError
from assay.client.manifests import manifest_inputs, read_chunks
from assay.v1 import assessment_pb2 as apb

ENDED = {apb.RUN_PHASE_COMPLETED, apb.RUN_PHASE_PARTIAL, apb.RUN_PHASE_FAILED}


def write_workloads(directory: Path, count: int) -> None:
    directory.mkdir()
    for start in range(0, count, 500):
        docs = [
            f"apiVersion: apps/v1\nkind: Deployment\n"
            f"metadata: {{name: app-{n}, namespace: ns-{n % 50}}}\n"
            f"spec:\n  replicas: 1\n  selector: {{matchLabels: {{app: app-{n}}}}}\n"
            f"  template:\n    metadata: {{labels: {{app: app-{n}}}}}\n"
            f"    spec:\n      containers: [{{name: c, image: 'nginx:latest'}}]\n"
            for n in range(start, min(count, start + 500))
        ]
        (directory / f"apps-{start}.yaml").write_text("---\n".join(docs))


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def one_run(target: str, workloads: Path, refusals: list[int], outcomes: list[str]) -> None:
    with AssayClient(target, timeout_s=600) as client:
        while True:
            files = [
                (i.name, read_chunks(i, io.BytesIO())) for i in manifest_inputs([str(workloads)])
            ]
            try:
                run = client.start_manifest_run(apb.StartRunRequest(), files)
                break
            except ClientError as error:
                if error.code is not grpc.StatusCode.RESOURCE_EXHAUSTED:
                    raise
                refusals.append(1)
                time.sleep(1.0)
        while run.state not in ENDED:
            for event in client.watch_run(run.run_id):
                if event.WhichOneof("event") == "run_finished":
                    break
            run = client.get_run(run.run_id)
        outcomes.append(apb.RunPhase.Name(run.state))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--objects", type=int, default=15_000)
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workloads = Path(tmp) / "workloads"
        write_workloads(workloads, args.objects)
        target = f"127.0.0.1:{free_port()}"
        env = {
            **os.environ,
            "ASSAY_LISTEN": target,
            "ASSAY_DATABASE_URL": f"sqlite:///{tmp}/assay.db",
            "ASSAY_HEALTH_PORT": "0",
            "ASSAY_METRICS_PORT": "0",
        }
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("assay")), "serve"],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        try:
            with grpc.insecure_channel(target) as channel:
                grpc.channel_ready_future(channel).result(timeout=60)
            began = time.perf_counter()
            refusals: list[int] = []
            outcomes: list[str] = []
            threads = [
                threading.Thread(target=one_run, args=(target, workloads, refusals, outcomes))
                for _ in range(args.runs)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            wall = time.perf_counter() - began
            peak = peak_rss_kib(server.pid)
        finally:
            server.terminate()
            server.wait(60)
    figures = {
        "runs": args.runs,
        "objects_per_run": args.objects,
        "peak_rss_mib": round(peak / 1024, 1),
        "wall_s": round(wall, 1),
        "refused_starts": len(refusals),
        "outcomes": sorted(outcomes),
        "max_runs": os.environ.get("ASSAY_MAX_RUNS", "default"),
    }
    print(
        f"{args.runs} runs x {args.objects} objects: peak RSS {figures['peak_rss_mib']} MiB, "
        f"{figures['wall_s']} s, {len(refusals)} starts refused and retried"
    )
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
