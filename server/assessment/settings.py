"""Settings of assessments: the runner's limits, the schedule, and run liveness.

The ``assessment`` group of the server settings (``server/settings.py``, whose naming rule
gives these fields their ``ASSAY_*`` variables and ``assay serve`` flags, e.g.
``check_timeout_s`` -> ``ASSAY_CHECK_TIMEOUT`` / ``--check-timeout``). The composition root
passes the one object as it is to the :class:`~assay.server.assessment.runner.Runner`, the
:class:`~assay.server.assessment.scheduler.Scheduler` (through ``ScheduleSpec``) and
:class:`~assay.server.assessment.liveness.RunLiveness`; tests build it with small values.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from croniter import croniter

from assay.server.core.types import Source


@dataclass(frozen=True)
class AssessmentSettings:
    check_timeout_s: float = field(
        default=30.0, metadata={"help": "Seconds one check may run.", "gt": 0}
    )
    run_timeout_s: float | None = field(
        default=600.0,
        metadata={"help": "Seconds a whole run may take ('none': no limit).", "gt": 0},
    )
    max_concurrency: int = field(
        default=2,
        metadata={
            "help": "Checks of one run executing at once. Checks compute over the loaded "
            "inventory and hold the interpreter, so more at once only adds switching (a "
            "full run over 50,000 objects costs 40 % more CPU at 8 than at 2); two let a "
            "run go on past one overrunning check.",
            "env": "ASSAY_CHECK_CONCURRENCY",
            "min": 1,
            "max": 256,
        },
    )
    honour_exemptions: bool = field(
        default=True,
        metadata={"help": "Honour the exemption annotations on objects."},
    )
    retained_runs: int = field(
        default=256,
        metadata={
            "help": "Finished runs kept in memory for waiting and cancelling.",
            "min": 0,
            "max": 100_000,
        },
    )
    schedule: str = field(
        default="",
        metadata={"help": "Cron expression of scheduled full runs (empty: none)."},
    )
    schedule_source: Source = field(
        default=Source.LIVE, metadata={"help": "What scheduled runs assess."}
    )
    schedule_path: str = field(
        default="",
        metadata={
            "help": "Manifest file or directory of scheduled runs (source manifests); the "
            "only manifests the server reads itself."
        },
    )
    max_upload_bytes: int = field(
        default=64 * 1024 * 1024,
        metadata={
            "help": "Bytes one run may upload: the files' contents and each chunk's file name.",
            "min": 1,
        },
    )
    run_heartbeat_s: float = field(
        default=15.0,
        metadata={"help": "Seconds between heartbeats of the runs this replica executes.", "gt": 0},
    )
    run_stale_after_s: float = field(
        default=60.0,
        metadata={
            "help": "Seconds without a heartbeat after which any replica fails a run.",
            "gt": 0,
        },
    )

    max_runs: int = field(
        default=2,
        metadata={
            "help": "Runs this server executes at once; StartRun beyond them is refused "
            "(RESOURCE_EXHAUSTED, retry later).",
            "min": 1,
            "max": 1024,
        },
    )
    inventory_threads: int = field(
        default=2,
        metadata={
            "help": "Threads that read and parse manifests, shared by every run.",
            "min": 1,
            "max": 256,
        },
    )
    check_threads: int = field(
        default=16,
        metadata={
            "help": "Threads that execute checks, shared by every run (by default as many "
            "as the runs admitted at once may use).",
            "min": 1,
            "max": 1024,
        },
    )
    storage_threads: int = field(
        default=8,
        metadata={
            "help": "Threads that write runs and results to the database.",
            "min": 1,
            "max": 256,
        },
    )
    thread_stall_s: float = field(
        default=10.0,
        metadata={
            "help": "Seconds a call may wait for a thread of a pool before readiness "
            "reports that pool saturated.",
            "gt": 0,
        },
    )
    write_retry_s: float = field(
        default=30.0,
        metadata={
            "help": "Seconds a run's writes (its results, its end) are retried while storage "
            "is unavailable.",
            "min": 0,
        },
    )

    def problems(self) -> Iterator[tuple[str, str]]:
        if self.schedule and not croniter.is_valid(self.schedule):
            yield "schedule", f"not a cron expression: {self.schedule!r}"
        if self.schedule and self.schedule_source is Source.MANIFESTS:
            if not self.schedule_path:
                yield "schedule_path", "is required when scheduled runs read manifests"
            elif not os.path.exists(self.schedule_path):
                yield "schedule_path", f"{self.schedule_path!r} does not exist"
        if self.run_heartbeat_s >= self.run_stale_after_s:
            yield "run_heartbeat_s", "must be below the stale-after time (several beats)"
