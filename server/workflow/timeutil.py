"""Go durations, as the WorkflowExecution API speaks them (timestamps: ``kube.times``).

Go durations appear in ``executionConfig.timeout`` (parsed here, handed to Tekton
verbatim) and in the status fields ``duration``, ``executionTimeBeforeFailure`` and
``cooldownRemaining`` (formatted here).
"""

from __future__ import annotations

import re
from datetime import timedelta

_GO_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")
_GO_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
GO_DURATION_PATTERN = _GO_DURATION.pattern


def parse_duration(value: str) -> timedelta:
    """Parse a Go duration string (``"1h30m"``, ``"90s"``, ``"1.5h"``); ValueError if not one."""
    if not _GO_DURATION.match(value):
        raise ValueError(f"not a duration: {value!r}")
    seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _GO_PART.findall(value))
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """Format like Go's ``time.Duration.String`` at second precision: ``1h2m3s``, ``0s``."""
    total = max(0, int(delta.total_seconds()))
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{minutes}m{seconds}s"
    return f"{seconds}s"
