"""Sustainability checks on leftovers: terminated pods and finished Jobs nobody removes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from assay.server.checks.kit import (
    Applicability,
    CheckDefinition,
    Context,
    Finding,
    NoParams,
    check,
    ref_of,
)
from assay.server.checks.kit.owners import pods_by_workload
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import Inventory
from assay.server.inventory.raw import (
    KubeObject,
    as_mappings,
    dig,
    int_or_none,
    name_of,
    namespace_of,
)
from assay.server.inventory.workloads import controller_owner

TERMINATED_PHASES = frozenset({"Succeeded", "Failed"})
_BATCH_KINDS = frozenset({"Job", "CronJob"})
_LISTED = 3

SUS_006 = CheckDefinition(
    id="SUS-006",
    pillar=Pillar.SUSTAINABILITY,
    name="Lingering terminated pods",
    description=(
        "Pods that have finished (Succeeded, Failed, Evicted) and Jobs that are done stay in "
        "the API until someone deletes them: the pod garbage collector only starts at "
        "thousands of them. They load etcd, the API server and every controller and tool that "
        "lists pods."
    ),
    severity=Severity.INFO,
    scope="L",
    remediation=(
        "Set spec.ttlSecondsAfterFinished on Jobs (the TTL controller then deletes them and "
        "their pods), keep CronJob history limits low, and delete terminated pods "
        "(kubectl delete pods --field-selector=status.phase==Failed -A) or lower the "
        "controller manager's --terminated-pod-gc-threshold."
    ),
    kinds=("Pod", "Job", "CronJob", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"),
    applies_to=Applicability(
        "finished Jobs not run by a CronJob, and workloads (or bare pods) with terminated pods "
        "outside Jobs",
        None,
    ),
    notes=(
        "Pods of Jobs are counted with their Job; Jobs a CronJob runs are left to its history "
        "limits (COST-009 judges those). Evicted pods are Failed pods with reason Evicted.",
    ),
)


def job_finished(job: KubeObject) -> str | None:
    """``Complete`` or ``Failed`` when the Job has finished, else ``None``."""
    for condition in as_mappings(dig(job, "status").get("conditions")):
        if condition.get("status") == "True" and condition.get("type") in ("Complete", "Failed"):
            return str(condition["type"])
    if dig(job, "status").get("completionTime"):
        return "Complete"
    return None


def _cron_run(inventory: Inventory, job: KubeObject) -> bool:
    owner = controller_owner(job)
    return (
        owner is not None
        and owner.get("kind") == "CronJob"
        and inventory.get("CronJob", namespace_of(job), str(owner.get("name"))) is not None
    )


def _terminated(pods: tuple[KubeObject, ...]) -> list[KubeObject]:
    return [p for p in pods if dig(p, "status").get("phase") in TERMINATED_PHASES]


def _pods(count: int, adjective: str = "") -> str:
    return f"{count} {adjective}pod" + ("" if count == 1 else "s")


def _states(pods: list[KubeObject]) -> str:
    counts = Counter(
        "Evicted"
        if dig(p, "status").get("reason") == "Evicted"
        else str(dig(p, "status").get("phase"))
        for p in pods
    )
    return ", ".join(f"{state} {count}" for state, count in sorted(counts.items()))


@check(SUS_006)
def lingering_terminated(ctx: Context[NoParams]) -> Iterator[Finding]:
    inventory = ctx.inventory
    by_workload = pods_by_workload(inventory)
    for job in inventory.objects("Job"):
        state = job_finished(job)
        if state is None or _cron_run(inventory, job):
            continue
        ref = ref_of("Job", job)
        left = _terminated(by_workload.get(ref, ()))
        ttl = int_or_none(dig(job, "spec").get("ttlSecondsAfterFinished"))
        if ttl is None:
            yield Finding.failing(
                ref,
                f"finished ({state}) with {_pods(len(left))} left and no "
                "ttlSecondsAfterFinished: it stays until someone deletes it",
            )
        else:
            yield Finding.passing(ref, f"finished ({state}); removed {ttl}s after finishing")
    lingering = 0
    for owner, pods in by_workload.items():
        if owner.kind in _BATCH_KINDS:
            continue
        terminated = _terminated(pods)
        if not terminated:
            continue
        lingering += 1
        names = sorted(name_of(p) for p in terminated)
        listed = ", ".join(names[:_LISTED]) + (
            f" and {len(names) - _LISTED} more" if len(names) > _LISTED else ""
        )
        yield Finding.failing(
            owner,
            f"{_pods(len(terminated), 'terminated ')} not garbage-collected "
            f"({_states(terminated)}): {listed}",
        )
    outside = sum(len(pods) for o, pods in by_workload.items() if o.kind not in _BATCH_KINDS)
    if outside and not lingering:
        yield Finding.passing(
            None, f"no pod outside Jobs is terminated ({_pods(outside)} looked at)"
        )


CHECKS = (lingering_terminated,)
