"""Read a manifest path under an address-space cap and print what came out, as JSON.

Run by the fault tests in a fresh interpreter (``python capped_read.py CAP_MIB PATH``) so a
regression that expands an alias bomb or reads ``/dev/zero`` dies of ``MemoryError`` in a
child instead of taking the test run, or the machine, with it. The cap is set before the
code under test is imported. Prints ``{"objects": [...], "diagnostics": [...],
"peak_rss_kib": N}`` on success.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path


def peak_rss_kib() -> int:
    """Peak resident set of this process (VmHWM: reset by exec, unlike ``ru_maxrss``)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main(cap_mib: str, path: str) -> None:
    cap = int(cap_mib) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    from assay.server.inventory.manifests import read_manifests

    objects, diagnostics = read_manifests(path)
    figures = {
        "objects": [str(o["metadata"]["name"]) for o in objects],
        "diagnostics": [str(d) for d in diagnostics],
        "peak_rss_kib": peak_rss_kib(),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main(*sys.argv[1:])
