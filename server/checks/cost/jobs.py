"""Cost checks on batch workloads: finished Jobs kept around."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from assay.server.checks.kit import (
    Applicability,
    CheckDefinition,
    Context,
    Verdict,
    fail,
    ok,
    param,
    per_object,
)
from assay.server.core.types import Pillar, Severity
from assay.server.inventory.raw import KubeObject, dig, int_or_none, kind_of
from assay.server.inventory.workloads import controller_owner


@dataclass(frozen=True)
class JobHistoryParams:
    max_successful_history: int = param(3, "largest CronJob successfulJobsHistoryLimit that passes")
    max_failed_history: int = param(3, "largest CronJob failedJobsHistoryLimit that passes")


def _not_cronjob_child(obj: KubeObject, ctx: Context[Any]) -> bool:
    owner = controller_owner(obj)
    return kind_of(obj) != "Job" or owner is None or owner.get("kind") != "CronJob"


COST_009 = CheckDefinition(
    id="COST-009",
    pillar=Pillar.COST_OPTIMIZATION,
    name="Finished Jobs retained",
    description=(
        "Finished Jobs and their pods stay in the cluster until someone deletes them, holding "
        "etcd space, API list cost and (for the pods) log storage."
    ),
    severity=Severity.LOW,
    scope="W",
    remediation=(
        "Set spec.ttlSecondsAfterFinished on standalone Jobs (e.g. 86400) so the TTL controller "
        "deletes them once finished; keep CronJob successfulJobsHistoryLimit and "
        "failedJobsHistoryLimit at 3 or less (the defaults are 3 and 1)."
    ),
    kinds=("Job", "CronJob"),
    applies_to=Applicability(
        "standalone Jobs and CronJobs (a CronJob's Jobs are pruned by its history limits)",
        _not_cronjob_child,
    ),
    params=JobHistoryParams,
)


@per_object(COST_009)
def finished_jobs_retained(obj: KubeObject, ctx: Context[JobHistoryParams]) -> Verdict:
    spec = dig(obj, "spec")
    if kind_of(obj) == "Job":
        ttl = int_or_none(spec.get("ttlSecondsAfterFinished"))
        if ttl is None:
            return fail("no ttlSecondsAfterFinished: kept forever once finished")
        return ok(f"deleted {ttl}s after it finishes")
    limits = (
        ("successfulJobsHistoryLimit", ctx.params.max_successful_history),
        ("failedJobsHistoryLimit", ctx.params.max_failed_history),
    )
    problems = []
    for field, most in limits:
        value = int_or_none(spec.get(field))
        if value is not None and value > most:
            problems.append(f"{field} {value} > {most}")
    if problems:
        return fail("keeps too many finished Jobs: " + ", ".join(problems))
    return ok("history limits keep few finished Jobs")


CHECKS = (finished_jobs_retained,)
