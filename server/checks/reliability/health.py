"""Reliability checks on live status: are the pods healthy, do controllers have their replicas.

REL-023 reads each pod's phase, conditions and container statuses; REL-024 each
controller's status counts and, through the pod label index, whether its selector still
matches pods. Ages are measured against the inventory's observation time (never the wall
clock, see :mod:`assay.server.checks.kit.observed`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from assay.server.checks.kit import (
    Applicability,
    CheckDefinition,
    Context,
    NoParams,
    Verdict,
    fail,
    ok,
    param,
    per_object,
    per_workload,
    problems_or_ok,
)
from assay.server.checks.kit.applies import CONTROLLER_KINDS, controllers
from assay.server.checks.kit.observed import (
    OBSERVED_AT_NOTE,
    OBSERVED_KINDS,
    age_text,
    observed_at,
    parse_time,
)
from assay.server.checks.reliability.texts import (
    condition_text,
    one_line,
    reason_and_message,
)
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import Workload
from assay.server.inventory.raw import KubeObject, as_mappings, dig, int_or_none, metadata

ERROR_REASONS = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "ErrImageNeverPull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
        "PostStartHookError",
    }
)
"""Waiting reasons that are failures at once, whatever their age."""


@dataclass(frozen=True)
class PodHealthParams:
    restart_threshold: int = param(
        5, "restarts of one container above which the pod fails (restartCount > threshold)"
    )
    restart_window_hours: int = param(
        24,
        "count restarts only when the container's last termination finished within this "
        "many hours of the observation time (0: whenever it was)",
    )
    grace_minutes: int = param(
        5,
        "how long a pod may stay Pending, keep a container waiting (ContainerCreating, "
        "PodInitializing) or stay not ready before it fails",
    )


REL_023 = CheckDefinition(
    id="REL-023",
    pillar=Pillar.RELIABILITY,
    name="Pod health",
    description=(
        "Pods that crash-loop, cannot pull their image, wait, stay not ready, restart "
        "again and again or have failed serve no traffic or serve it intermittently: what "
        "an operator looks at first during an incident."
    ),
    severity=Severity.HIGH,
    scope="L",
    remediation=(
        "Read the container's last state and logs (kubectl describe pod; kubectl logs "
        "--previous) and fix the cause: a crashing process or failing probe, an image name "
        "or pull secret, a missing ConfigMap or Secret, an OOMKilled container needing a "
        "higher memory limit, or a pod that cannot be scheduled. Delete Failed and Evicted "
        "pods once understood."
    ),
    kinds=OBSERVED_KINDS,
    applies_to=Applicability("every Pod, a controller's included (each pod is healthy or not)"),
    params=PodHealthParams,
    notes=(
        "Fails at once on the waiting reasons CrashLoopBackOff, ImagePullBackOff, "
        "ErrImagePull, ErrImageNeverPull, InvalidImageName, CreateContainerConfigError, "
        "CreateContainerError, RunContainerError and PostStartHookError, and on the Failed "
        "and Unknown phases (Evicted pods included); other waiting, Pending and not-ready "
        "states fail once older than grace_minutes. Init containers count; a Succeeded pod "
        "passes.",
        "Popeye also counts restarts above a threshold (5 by default) but without a time "
        "window; restart_window_hours keeps a pod that restarted long ago and is stable "
        "since from failing forever.",
        OBSERVED_AT_NOTE,
    ),
)


_STATUS_FIELDS = (("initContainerStatuses", "init container"), ("containerStatuses", "container"))


def _age(now: datetime | None, value: object) -> float | None:
    moment = parse_time(value)
    if now is None or moment is None:
        return None
    return (now - moment).total_seconds()


def _last_exit(status: KubeObject) -> str:
    terminated = dig(status, "lastState", "terminated")
    if not terminated:
        return ""
    reason = terminated.get("reason") or "terminated"
    return f"last exit {reason}, code {terminated.get('exitCode')}"


def _container_problems(
    pod: KubeObject, now: datetime | None, params: PodHealthParams, waiting_since: object
) -> Iterator[str]:
    status = dig(pod, "status")
    window = params.restart_window_hours * 3600
    init_failing = False
    for field, role in _STATUS_FIELDS:
        for container in as_mappings(status.get(field)):
            name = container.get("name")
            restarts = int_or_none(container.get("restartCount")) or 0
            waiting = dig(container, "state", "waiting")
            reason = str(waiting.get("reason") or "")
            if reason in ERROR_REASONS:
                init_failing = init_failing or field == "initContainerStatuses"
                restarted = f"restarted {restarts} times" if restarts else ""
                details = "; ".join(d for d in (restarted, _last_exit(container)) if d)
                message = one_line(waiting.get("message"), 160)
                told = f": {message}" if message and reason != "CrashLoopBackOff" else ""
                yield f"{role} {name} {reason}{told}" + (f" ({details})" if details else "")
                continue
            if waiting and not (reason == "PodInitializing" and init_failing):
                age = _age(now, waiting_since)
                if age is not None and age > params.grace_minutes * 60:
                    init_failing = init_failing or field == "initContainerStatuses"
                    yield f"{role} {name} waiting ({reason or 'no reason'}) for {age_text(age)}"
                    continue
            if restarts > params.restart_threshold:
                finished = dig(container, "lastState", "terminated").get("finishedAt")
                age = _age(now, finished)
                if window == 0 or age is None or age <= window:
                    suffix = _last_exit_suffix(container, age)
                    yield f"{role} {name} restarted {restarts} times{suffix}"


def _exits(status: KubeObject) -> str:
    """How the containers of a Failed pod ended: ``container reindex Error, code 3``."""
    found = []
    for field, role in _STATUS_FIELDS:
        for container in as_mappings(status.get(field)):
            terminated = dig(container, "state", "terminated")
            if terminated and terminated.get("exitCode") not in (0, None):
                reason = terminated.get("reason") or "terminated"
                found.append(
                    f"{role} {container.get('name')} {reason}, code {terminated.get('exitCode')}"
                )
    return "; ".join(found)


def _last_exit_suffix(container: KubeObject, age: float | None) -> str:
    exit_text = _last_exit(container)
    if not exit_text:
        return ""
    return f" ({exit_text}, {age_text(age)} ago)" if age is not None else f" ({exit_text})"


def _conditions(status: KubeObject) -> dict[str, KubeObject]:
    return {str(c.get("type")): c for c in as_mappings(status.get("conditions"))}


@per_object(REL_023, kinds=("Pod",), include_owned=True)
def pod_health(pod: KubeObject, ctx: Context[PodHealthParams]) -> Verdict:
    params = ctx.params
    status = dig(pod, "status")
    phase = str(status.get("phase") or "")
    if phase == "Succeeded":
        return ok("completed (phase Succeeded)")
    if phase in ("Failed", "Unknown"):
        told = reason_and_message(status) or _exits(status)
        return fail(f"phase {phase}" + (f" ({told})" if told else ""))
    now = observed_at(ctx.inventory)
    grace = params.grace_minutes * 60
    conditions = _conditions(status)
    ready = conditions.get("Ready", {})
    waiting_since = (
        conditions.get("ContainersReady", {}).get("lastTransitionTime")
        or status.get("startTime")
        or metadata(pod).get("creationTimestamp")
    )
    problems = list(_container_problems(pod, now, params, waiting_since))
    state = f"phase {phase or 'unknown'}"
    if phase == "Pending":
        age = _age(now, metadata(pod).get("creationTimestamp"))
        scheduled = conditions.get("PodScheduled", {})
        why = condition_text(scheduled) if scheduled.get("status") == "False" else ""
        if age is not None and age > grace and not problems:
            problems.append(f"Pending for {age_text(age)}{why}")
        elif age is not None:
            state = f"Pending for {age_text(age)}, within the grace period{why}"
    elif ready.get("status") == "True":
        state += ", ready"
    elif ready:
        age = _age(now, ready.get("lastTransitionTime"))
        if age is not None and age > grace:
            problems.append(f"not ready for {age_text(age)}{condition_text(ready)}")
        elif age is not None:
            state += f", not ready for {age_text(age)}, within the grace period"
    if now is None:
        state += " (ages not judged: the inventory holds no timestamp)"
    return problems_or_ok(dict.fromkeys(problems), state)


REL_024 = CheckDefinition(
    id="REL-024",
    pillar=Pillar.RELIABILITY,
    name="Workload availability",
    description=(
        "A controller with fewer available replicas than it wants runs degraded: less "
        "capacity, less redundancy, often a stuck rollout; one whose selector matches no "
        "pod at all serves nothing."
    ),
    severity=Severity.HIGH,
    scope="L",
    remediation=(
        "Find why replicas are missing: kubectl describe on the controller (ReplicaFailure "
        "and Progressing conditions: quota, admission, a stuck rollout) and on its pods "
        "(scheduling, image, crash loops); roll back a rollout that cannot progress."
    ),
    kinds=(*CONTROLLER_KINDS, "Pod"),
    applies_to=controllers(
        "Deployments, StatefulSets, DaemonSets and ReplicaSets not owned by a Deployment"
    ),
    notes=(
        "Desired is spec.replicas (1 when unset) for Deployments, StatefulSets and "
        "ReplicaSets and status.desiredNumberScheduled for DaemonSets; available is "
        "status.availableReplicas (numberAvailable for DaemonSets; readyReplicas for a "
        "StatefulSet whose status predates availableReplicas). A controller scaled to zero "
        "passes. A snapshot: a rollout in progress fails until it completes.",
    ),
)


def _desired_available(workload: Workload) -> tuple[int, int]:
    status = dig(workload.obj, "status")
    if workload.kind == "DaemonSet":
        desired = int_or_none(status.get("desiredNumberScheduled")) or 0
        return desired, int_or_none(status.get("numberAvailable")) or 0
    available = int_or_none(status.get("availableReplicas"))
    if available is None and workload.kind == "StatefulSet":
        available = int_or_none(status.get("readyReplicas"))
    return workload.replicas or 0, available or 0


def _controller_conditions(workload: Workload) -> list[str]:
    found = []
    for condition in as_mappings(dig(workload.obj, "status").get("conditions")):
        kind = condition.get("type")
        failing = (kind == "ReplicaFailure" and condition.get("status") == "True") or (
            kind == "Progressing" and condition.get("status") == "False"
        )
        if failing:
            found.append(f"{kind}{condition_text(condition)}")
    return found


@per_workload(REL_024)
def workload_availability(workload: Workload, ctx: Context[NoParams]) -> Verdict:
    desired, available = _desired_available(workload)
    if desired == 0:
        return ok("scaled to zero" if workload.kind != "DaemonSet" else "wants no pod")
    pods = ctx.inventory.pods_selected(workload.namespace, workload.selector)
    problems = []
    if not pods:
        problems.append("its selector matches no pod")
    if available < desired:
        problems.append(f"{available} of {desired} replicas available")
    problems.extend(_controller_conditions(workload))
    if problems:
        return fail("; ".join(problems))
    return ok(f"{available} of {desired} replicas available")


CHECKS = (pod_health, workload_availability)
