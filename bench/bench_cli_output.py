"""What printing a listing costs: ``python bench/bench_cli_output.py [--results N] [--json]``.

Builds a ListAssessmentsResponse of ``--results`` results (default 2,000: what ``assay query
assessments list --all-runs --all`` prints after two full runs over examples/) and times
``formatters.emit`` for each output (table at 80 columns, wide, json, yaml) into a memory
buffer: the CLI's own cost, without the RPCs. Per output it prints the best of ``--repeat``
runs in seconds and the bytes written; with ``--json`` the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import io
import json
import time

from google.protobuf import timestamp_pb2
from rich.console import Console

from assay.client import formatters as fmt
from assay.v1 import assessment_pb2 as apb
from assay.v1 import common_pb2 as cpb

PILLARS = [p for p in cpb.Pillar.values() if p]
STATUSES = [s for s in cpb.Status.values() if s]


def listing(count: int) -> apb.ListAssessmentsResponse:
    run_id = "run_20260216T103045_123456_a7f3b9c2"
    page = apb.ListAssessmentsResponse(run_id=run_id)
    for i in range(count):
        page.results.append(
            apb.AssessmentResult(
                id=f"asm_20260216_103045_sec{i % 40:03d}_{i:06x}",
                run_id=run_id,
                pillar=PILLARS[i % len(PILLARS)],
                check_id=f"SEC-{i % 40:03d}",
                check_name="Privileged container",
                status=STATUSES[i % len(STATUSES)],
                severity=1 + i % 5,  # type: ignore[arg-type]
                object=cpb.ObjectReference(
                    kind="Deployment", namespace=f"team-{i % 50}", name=f"service-{i}"
                ),
                container="app",
                message=f"container runs without a syscall filter or LSM profile ({i}): no "
                "seccompProfile, appArmorProfile or seLinuxOptions",
                remediation="Set securityContext.seccompProfile.type to RuntimeDefault.",
                assessed_at=timestamp_pb2.Timestamp(seconds=1_771_237_845, nanos=i * 1000),
                duration_ms=i % 7,
            )
        )
    return page


def time_output(
    page: apb.ListAssessmentsResponse, output: fmt.Output, repeat: int
) -> dict[str, float]:
    best, size = float("inf"), 0
    for _ in range(repeat):
        buffer = io.StringIO()
        console = Console(file=buffer, width=80, color_system=None)
        start = time.perf_counter()
        fmt.emit(console, output, page, fmt.results_table)
        best = min(best, time.perf_counter() - start)
        size = len(buffer.getvalue().encode())
    return {"seconds": round(best, 3), "bytes": size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    page = listing(args.results)
    figures = {output.value: time_output(page, output, args.repeat) for output in fmt.Output}
    for name, figure in figures.items():
        print(f"-o {name:5}  {figure['seconds']:7.3f} s  {figure['bytes']:>10,} bytes")
    if args.json:
        print(json.dumps({"results": args.results, **figures}))


if __name__ == "__main__":
    main()
