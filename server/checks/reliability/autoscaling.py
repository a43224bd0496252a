"""Reliability checks on autoscalers: a HorizontalPodAutoscaler must have a target to scale.

REL-019 looks the ``scaleTargetRef`` up by kind, namespace and name (``inventory.get``).
"""

from __future__ import annotations

from assay.server.checks.kit import (
    Applicability,
    CheckDefinition,
    Context,
    NoParams,
    Verdict,
    fail,
    ok,
    skip,
)
from assay.server.checks.kit.observed import unreadable_kinds
from assay.server.checks.kit.rules import per_object
from assay.server.core.types import Pillar, Severity
from assay.server.inventory.raw import KubeObject, dig, namespace_of

HPA = "HorizontalPodAutoscaler"
SCALABLE_KINDS = ("Deployment", "StatefulSet", "ReplicaSet", "ReplicationController")
"""Built-in kinds with a scale subresource (what an HPA can target)."""
UNSCALABLE_KINDS = frozenset({"DaemonSet", "Job", "CronJob", "Pod"})
"""Workload kinds without a scale subresource: an HPA on them can never act."""
_GROUPS = {
    "Deployment": "apps",
    "StatefulSet": "apps",
    "ReplicaSet": "apps",
    "ReplicationController": "",
}

REL_019 = CheckDefinition(
    id="REL-019",
    pillar=Pillar.RELIABILITY,
    name="HPA target missing",
    description=(
        "A HorizontalPodAutoscaler whose scaleTargetRef names no existing object does "
        "nothing (its ScalingActive condition is false): the workload it was meant to "
        "protect under load runs at a fixed size."
    ),
    severity=Severity.HIGH,
    scope="X",
    remediation=(
        "Fix spec.scaleTargetRef (apiVersion, kind and name, in the HPA's namespace) to name "
        "the Deployment or StatefulSet to scale, or delete the HPA if its workload is gone."
    ),
    kinds=(HPA, *SCALABLE_KINDS),
    applies_to=Applicability("every HorizontalPodAutoscaler, those KEDA manages included"),
    notes=(
        "Targets are looked up by kind and name in the HPA's namespace; a target whose "
        "apiVersion names another group than its kind's (extensions/v1beta1 Deployment) "
        "fails, as the API server no longer serves those. Kinds Assay does not read (custom "
        "resources with a scale subresource, such as Argo Rollouts) are skipped. Like "
        "kube-score's horizontalpodautoscaler-has-target and kube-linter's dangling-hpa.",
    ),
)


@per_object(REL_019, kinds=(HPA,), include_owned=True)  # KEDA owns the HPAs it makes
def hpa_target_missing(hpa: KubeObject, ctx: Context[NoParams]) -> Verdict:
    ref = dig(hpa, "spec", "scaleTargetRef")
    kind, name = str(ref.get("kind") or ""), str(ref.get("name") or "")
    api_version = str(ref.get("apiVersion") or "")
    if not kind or not name:
        return fail("spec.scaleTargetRef has no kind or name")
    target = f"{kind}/{name}"
    if kind in UNSCALABLE_KINDS:
        return fail(f"target {target}: a {kind} has no scale subresource")
    if kind not in SCALABLE_KINDS:
        return skip(f"target {target} is a kind Assay does not read")
    if kind in unreadable_kinds(ctx.inventory):
        return skip(f"target {target}: {kind}s could not be listed")
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    if api_version and group != _GROUPS[kind]:
        expected = f"{_GROUPS[kind]}/v1" if _GROUPS[kind] else "v1"
        return fail(f"target {target} has apiVersion {api_version}, not {expected}")
    namespace = namespace_of(hpa)
    if ctx.inventory.get(kind, namespace, name) is None:
        return fail(f"target {target} does not exist in namespace {namespace}")
    return ok(f"targets {target}")


CHECKS = (hpa_target_missing,)
