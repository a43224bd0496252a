"""Reliability checks on batch workloads: Jobs and CronJobs that can run, and did.

REL-028 judges each top-level Job and CronJob's spec on manifests and live; on a live
inventory it also reads the CronJob's status, its newest Job (through an index of Jobs by
owning CronJob, built once) and the newest Warning event about each.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from assay.server.checks.kit import (
    Applicability,
    CheckDefinition,
    Context,
    NoParams,
    Verdict,
    per_workload,
    problems_or_ok,
)
from assay.server.checks.kit.observed import parse_time
from assay.server.checks.reliability.events import EVENT, describe, latest_warning
from assay.server.checks.reliability.texts import reason_and_message
from assay.server.core.types import Pillar, Severity, Source
from assay.server.inventory import Inventory, Workload
from assay.server.inventory.raw import KubeObject, as_mappings, dig, metadata, name_of, namespace_of
from assay.server.inventory.workloads import controller_owner

BATCH_KINDS = ("Job", "CronJob")
VALID_RESTART_POLICIES = ("OnFailure", "Never")
_NEVER = datetime.min.replace(tzinfo=UTC)


def _batch(workload: Workload, ctx: Context[Any]) -> bool:
    return workload.kind in BATCH_KINDS


REL_028 = CheckDefinition(
    id="REL-028",
    pillar=Pillar.RELIABILITY,
    name="Batch reliability",
    description=(
        "A CronJob without startingDeadlineSeconds stops scheduling for good after missing "
        "more than 100 start times (a controller outage, a long suspension); a Job whose "
        "pod template restarts Always is rejected; a CronJob that is suspended, never "
        "succeeded or keeps raising warnings silently skips its work."
    ),
    severity=Severity.LOW,
    scope="W (+L)",
    remediation=(
        "Set spec.startingDeadlineSeconds on every CronJob (e.g. 300: a start missed by "
        "longer is skipped instead of counted), set the pod template's restartPolicy to "
        "OnFailure or Never, resume (spec.suspend: false) or delete suspended CronJobs, and "
        "read the failing Jobs' pods and events (kubectl describe job) to fix what fails."
    ),
    kinds=(*BATCH_KINDS, EVENT),
    applies_to=Applicability("Jobs and CronJobs (a CronJob's Jobs are judged through it)", _batch),
    notes=(
        "On manifests and live: CronJob without startingDeadlineSeconds, suspended CronJob, "
        "pod template restartPolicy other than OnFailure or Never (unset means Always, which "
        "the API rejects for Jobs). Live only: a CronJob scheduled at least once that never "
        "succeeded (no status.lastSuccessfulTime), whose newest Job failed, or with a "
        "Warning event; a Job whose Failed condition is true or with a Warning event.",
        "kube-score's cronjob-has-deadline and cronjob-restartpolicy cover the spec part; "
        "the status part is Popeye-like.",
    ),
)


def _spec_problems(workload: Workload) -> Iterator[str]:
    policy = workload.pod_spec.get("restartPolicy")
    if policy not in VALID_RESTART_POLICIES:
        shown = f"restartPolicy {policy}" if policy else "restartPolicy unset (Always)"
        yield f"{shown} is invalid for a Job's pods: use OnFailure or Never"
    if workload.kind == "CronJob":
        if workload.spec.get("startingDeadlineSeconds") is None:
            yield "no startingDeadlineSeconds"
        if workload.spec.get("suspend") is True:
            yield "suspended (spec.suspend: true)"


def jobs_by_cronjob(inventory: Inventory) -> dict[tuple[str, str], list[KubeObject]]:
    """The Jobs each CronJob (namespace, name) controls, from their ownerReferences."""

    def compute() -> dict[tuple[str, str], list[KubeObject]]:
        found: dict[tuple[str, str], list[KubeObject]] = defaultdict(list)
        for job in inventory.objects("Job"):
            owner = controller_owner(job)
            if owner is not None and owner.get("kind") == "CronJob":
                found[(namespace_of(job), str(owner.get("name") or ""))].append(job)
        return dict(found)

    return inventory.memo("reliability:cronjob-jobs", compute)


def _started(job: KubeObject) -> datetime:
    moment = parse_time(dig(job, "status").get("startTime")) or parse_time(
        metadata(job).get("creationTimestamp")
    )
    return moment or _NEVER


def _failed(job: KubeObject) -> str | None:
    for condition in as_mappings(dig(job, "status").get("conditions")):
        if condition.get("type") == "Failed" and condition.get("status") == "True":
            return reason_and_message(condition) or "Failed"
    return None


def _live_problems(inventory: Inventory, workload: Workload) -> Iterator[str]:
    if workload.kind == "CronJob":
        status = dig(workload.obj, "status")
        scheduled = status.get("lastScheduleTime")
        if scheduled and not status.get("lastSuccessfulTime"):
            yield f"never succeeded (last scheduled {scheduled})"
        jobs = jobs_by_cronjob(inventory).get((workload.namespace, workload.name), [])
        if jobs:
            newest = max(jobs, key=_started)
            failure = _failed(newest)
            if failure:
                yield f"its newest Job {name_of(newest)} failed ({failure})"
    else:
        failure = _failed(workload.obj)
        if failure:
            yield f"failed ({failure})"
    warning = latest_warning(inventory, workload.kind, workload.namespace, workload.name)
    if warning is not None:
        yield f"warning event {describe(warning)}"


@per_workload(REL_028)
def batch_reliability(workload: Workload, ctx: Context[NoParams]) -> Verdict:
    problems = list(_spec_problems(workload))
    if ctx.inventory.source is Source.LIVE:
        problems.extend(_live_problems(ctx.inventory, workload))
        passing = "valid spec, no failed run or warning"
    else:
        passing = "valid spec"
    return problems_or_ok(problems, passing)


CHECKS = (batch_reliability,)
