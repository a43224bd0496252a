"""Benchmark: peak memory of `assay serve` fed hostile manifests, and the run it records.

Usage::

    .venv/bin/python bench/bench_faults.py --json
    .venv/bin/python bench/bench_faults.py --assay /other/venv/bin/assay --json   # another build
    .venv/bin/python bench/bench_faults.py --assay /old/.venv/bin/assay --via-path --json

For each case a fresh ``assay serve`` process (SQLite in a temporary directory, the given
``assay`` executable, so an older build can be measured the same way) gets one
StartManifestRun over gRPC; the benchmark waits until the run is terminal (or the server
died) and reads the server's peak resident set (``VmHWM`` of /proc/<pid>/status), beside
the peak right after start-up. Cases:

- ``alias_bomb_8``: a 1 KB YAML file whose ``metadata.name`` is an alias standing for 10^8
  strings (8 levels of ten);
- ``docs_100k``: one file of 100,000 YAML documents that are not Kubernetes objects.

``--via-path`` writes the file beside the server's database and starts the run with
StartRun's former ``path`` field (builds before StartManifestRun, e.g. 18691c9).

Per case it prints the peak RSS (MiB), its growth over the idle server, the run's state, the
number of diagnostics the run kept, and the size of the GetRun reply (bytes), which the
default 4 MiB client limit must accommodate. ``--json`` prints one JSON object last.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assay.v1 import assessment_pb2 as apb  # noqa: E402
from assay.v1 import assessment_pb2_grpc as apb_grpc  # noqa: E402
from tests.faults.test_manifest_faults import alias_bomb  # noqa: E402

TERMINAL = {
    apb.RUN_PHASE_COMPLETED,
    apb.RUN_PHASE_PARTIAL,
    apb.RUN_PHASE_FAILED,
    apb.RUN_PHASE_CANCELLED,
}
CHUNK = 1024 * 1024


def cases() -> dict[str, bytes]:
    return {
        "alias_bomb_8": alias_bomb(8).encode(),
        "docs_100k": "".join(f"---\nitem: {i}\n" for i in range(100_000)).encode(),
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def _path_request(path: Path) -> bytes:
    """StartRunRequest{source: MANIFESTS, path: 4} as builds before StartManifestRun read it
    (field 4, now reserved): for measuring those builds."""
    encoded = str(path).encode()
    head = apb.StartRunRequest(source=apb.INVENTORY_SOURCE_MANIFESTS).SerializeToString()
    return head + b"\x22" + _varint(len(encoded)) + encoded


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def measure(
    assay: str, name: str, body: bytes, timeout_s: float, *, via_path: bool = False
) -> dict[str, Any]:
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="assay-bench-faults-") as folder:
        env = {
            **os.environ,
            "ASSAY_DATABASE_URL": f"sqlite:///{folder}/assay.db",
            "ASSAY_HEALTH_PORT": "0",
            "ASSAY_METRICS_PORT": "0",
            "ASSAY_LOG_LEVEL": "warning",
        }
        command = [assay, "serve", "--listen", f"127.0.0.1:{port}"]
        with subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL) as server:
            try:
                manifest = None
                if via_path:
                    manifest = Path(folder) / f"{name}.yaml"
                    manifest.write_bytes(body)
                return _run_case(server, port, name, body, timeout_s, manifest)
            finally:
                if server.poll() is None:
                    server.terminate()
                    try:
                        server.wait(30)
                    except subprocess.TimeoutExpired:
                        server.kill()


def _run_case(
    server: subprocess.Popen[bytes],
    port: int,
    name: str,
    body: bytes,
    timeout_s: float,
    manifest: Path | None,
) -> dict[str, Any]:
    channel = grpc.insecure_channel(
        f"127.0.0.1:{port}", options=[("grpc.max_receive_message_length", 256 * CHUNK)]
    )
    try:
        grpc.channel_ready_future(channel).result(timeout=60)
        stub = apb_grpc.AssessmentServiceStub(channel)
        idle = _peak_kib(server.pid)

        def upload() -> Any:
            yield apb.StartManifestRunRequest(run=apb.StartRunRequest())
            for offset in range(0, len(body), CHUNK):
                chunk = apb.ManifestChunk(name=f"{name}.yaml", data=body[offset : offset + CHUNK])
                yield apb.StartManifestRunRequest(chunk=chunk)

        started = time.monotonic()
        if manifest is None:
            run_id = stub.StartManifestRun(upload(), timeout=timeout_s).run.run_id
        else:
            start = channel.unary_unary(
                "/assay.v1.AssessmentService/StartRun",
                request_serializer=bytes,
                response_deserializer=apb.StartRunResponse.FromString,
            )
            run_id = start(_path_request(manifest), timeout=timeout_s).run.run_id
        state, reply = apb.RUN_PHASE_UNSPECIFIED, apb.GetRunResponse()
        while time.monotonic() - started < timeout_s and server.poll() is None:
            try:
                reply = stub.GetRun(apb.GetRunRequest(run_id=run_id), timeout=timeout_s)
            except grpc.RpcError as error:
                return _figures(name, idle, _peak_or_dead(server), f"GetRun: {error.code()}")
            state = reply.run.state
            if state in TERMINAL:
                break
            time.sleep(0.1)
        peak = _peak_or_dead(server)
        figures = _figures(name, idle, peak, apb.RunPhase.Name(state))
        figures["diagnostics"] = len(reply.run.diagnostics)
        figures["get_run_bytes"] = reply.ByteSize()
        figures["seconds"] = round(time.monotonic() - started, 2)
        return figures
    except grpc.RpcError as error:
        return _figures(name, 0, _peak_or_dead(server), f"StartManifestRun: {error.code()}")
    finally:
        channel.close()


def _peak_or_dead(server: subprocess.Popen[bytes]) -> int | None:
    try:
        return _peak_kib(server.pid) if server.poll() is None else None
    except (OSError, RuntimeError):
        return None


def _figures(name: str, idle: int, peak: int | None, outcome: str) -> dict[str, Any]:
    return {
        "case": name,
        "idle_rss_mib": round(idle / 1024, 1),
        "peak_rss_mib": round(peak / 1024, 1) if peak is not None else None,
        "growth_mib": round((peak - idle) / 1024, 1) if peak is not None else None,
        "outcome": outcome if peak is not None else f"{outcome} (server died)",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--assay", default=str(Path(sys.executable).with_name("assay")))
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--case", action="append", choices=sorted(cases()))
    parser.add_argument(
        "--via-path",
        action="store_true",
        help="StartRun with a server-side path (builds before StartManifestRun)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = {}
    for name, body in cases().items():
        if args.case and name not in args.case:
            continue
        figures = measure(args.assay, name, body, args.timeout, via_path=args.via_path)
        results[name] = figures
        print(
            f"{name:14} peak {figures['peak_rss_mib']} MiB (idle {figures['idle_rss_mib']}, "
            f"+{figures['growth_mib']}), {figures['outcome']}, "
            f"{figures.get('diagnostics', '-')} diagnostics, "
            f"GetRun {figures.get('get_run_bytes', '-')} bytes",
            flush=True,
        )
    if args.json:
        print(json.dumps({"assay": args.assay, "cases": results}))


if __name__ == "__main__":
    main()
