"""Sustainability checks on schedules: non-production namespaces that never scale down.

Scale-down schedules recognised (each says why a workload is covered):

* kube-downscaler annotations on the workload or its namespace (``downscaler/uptime``,
  ``downscaler/downtime``, ``downscaler/upscale-period``, ``downscaler/downscale-period``,
  ``downscaler/force-downtime``), its cluster-wide defaults (``--default-uptime``,
  ``--default-downtime``, ``--upscale-period``, ``--downscale-period`` or the matching
  environment variables of a kube-downscaler container, minus ``--exclude-namespaces``), and
  its opt-outs (``downscaler/exclude``, ``downscaler/exclude-until``), which win;
* KEDA ScaledObjects with a ``cron`` trigger, or that scale to zero (``minReplicaCount`` 0,
  KEDA's default);
* kube-green SleepInfo objects in the namespace (Deployments and StatefulSets unless
  switched off, minus ``excludeRef``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from assay.server.checks.kit import (
    Applicability,
    CheckDefinition,
    Context,
    Finding,
    check,
    param,
)
from assay.server.core.types import ObjectRef, Pillar, Severity
from assay.server.inventory import Inventory, Workload
from assay.server.inventory.raw import (
    KubeObject,
    annotations_of,
    as_mappings,
    dig,
    int_or_none,
    kind_of,
    labels_of,
    name_of,
    string_map,
)

SCHEDULE_ANNOTATIONS = (
    "downscaler/uptime",
    "downscaler/downtime",
    "downscaler/upscale-period",
    "downscaler/downscale-period",
)
_NO_SCHEDULE = frozenset({"", "always", "never"})
_DEFAULT_FLAGS = {
    "--default-uptime": "DEFAULT_UPTIME",
    "--default-downtime": "DEFAULT_DOWNTIME",
    "--upscale-period": "UPSCALE_PERIOD",
    "--downscale-period": "DOWNSCALE_PERIOD",
}
_EXCLUDE_FLAG, _EXCLUDE_ENV = "--exclude-namespaces", "EXCLUDE_NAMESPACES"
SCALABLE_KINDS = ("Deployment", "StatefulSet")
_LISTED = 5
_SHOWN = 60


@dataclass(frozen=True)
class NonProductionParams:
    environment_labels: tuple[str, ...] = param(
        ("environment", "env", "stage"), "namespace labels that name the environment"
    )
    non_production: frozenset[str] = param(
        frozenset(
            {
                "dev",
                "development",
                "test",
                "testing",
                "qa",
                "staging",
                "stage",
                "sandbox",
                "preview",
            }
        ),
        "environment label values (case-insensitive) that mark a namespace non-production",
    )


def environment(namespace: KubeObject, params: NonProductionParams) -> str | None:
    """``label=value`` when the namespace is labelled non-production, else ``None``."""
    labels = labels_of(namespace)
    wanted = {value.lower() for value in params.non_production}
    for key in params.environment_labels:
        value = labels.get(key, "")
        if value.lower() in wanted:
            return f"{key}={value}"
    return None


def _running(inventory: Inventory, namespace: str) -> list[Workload]:
    """The namespace's Deployments and StatefulSets with replicas (grouped once per run)."""

    def build() -> dict[str, list[Workload]]:
        found: dict[str, list[Workload]] = {}
        for workload in inventory.workloads():
            if workload.kind in SCALABLE_KINDS and (workload.replicas or 0) > 0:
                found.setdefault(workload.namespace, []).append(workload)
        return found

    return inventory.memo("sustainability:running-by-namespace", build).get(namespace, [])


def _candidates(inventory: Inventory, params: NonProductionParams) -> list[tuple[str, str]]:
    return [
        (name_of(ns), label)
        for ns in inventory.objects("Namespace")
        if (label := environment(ns, params)) and _running(inventory, name_of(ns))
    ]


def _applies(inventory: Inventory, ctx: Context[Any]) -> bool:
    return bool(_candidates(inventory, ctx.params))


SUS_005 = CheckDefinition(
    id="SUS-005",
    pillar=Pillar.SUSTAINABILITY,
    name="Non-production always on",
    description=(
        "Development, test and staging environments are used in working hours, yet their "
        "workloads usually run around the clock: nights and weekends are two thirds of the "
        "week of power and nodes for nobody."
    ),
    severity=Severity.INFO,
    scope="N",
    remediation=(
        "Give the namespace a scale-down schedule: annotate it for kube-downscaler "
        "(downscaler/uptime: 'Mon-Fri 07:30-19:30 Europe/Berlin'), add a kube-green SleepInfo, "
        "or scale with a KEDA ScaledObject with a cron trigger; remove downscaler/exclude "
        "from workloads that do not need to stay up."
    ),
    kinds=("Namespace", *SCALABLE_KINDS, "ScaledObject", "SleepInfo"),
    applies_to=Applicability(
        "namespaces labelled non-production (environment_labels, non_production) that run "
        "Deployments or StatefulSets",
        _applies,
    ),
    params=NonProductionParams,
    notes=(
        "Recognises kube-downscaler annotations (downscaler/uptime, downscaler/downtime, "
        "downscaler/upscale-period, downscaler/downscale-period, downscaler/force-downtime on "
        "the workload or the namespace; downscaler/exclude and downscaler/exclude-until as "
        "opt-outs) and its cluster defaults (--default-uptime, --default-downtime, "
        "--upscale-period, --downscale-period or their environment variables, minus "
        "--exclude-namespaces, read from a kube-downscaler container's arguments); KEDA "
        "ScaledObjects with a cron trigger or scaling to zero; and kube-green SleepInfo "
        "(kube-green.com/v1alpha1). Without any labelled namespace the check is not "
        "applicable and says so.",
    ),
)


def _shown(text: str) -> str:
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _annotation_schedule(annotations: Mapping[str, str], where: str) -> str | None:
    for key in SCHEDULE_ANNOTATIONS:
        value = annotations.get(key, "").strip()
        if value.lower() not in _NO_SCHEDULE:
            return f"{key} {_shown(value)!r} on {where}"
    if annotations.get("downscaler/force-downtime", "").strip().lower() == "true":
        return f"downscaler/force-downtime on {where}"
    return None


def _opt_out(annotations: Mapping[str, str], where: str) -> str | None:
    if annotations.get("downscaler/exclude", "").strip().lower() == "true":
        return f"downscaler/exclude on {where}"
    until = annotations.get("downscaler/exclude-until", "").strip()
    if until:
        return f"downscaler/exclude-until {_shown(until)!r} on {where}"
    return None


@dataclass(frozen=True, slots=True)
class ClusterDefault:
    schedule: str
    excluded: frozenset[str]


def _flag_values(container: KubeObject) -> dict[str, str]:
    """``--flag=value`` and ``--flag value`` arguments, then the container's plain env."""
    found: dict[str, str] = {}
    words = [
        str(word)
        for field in ("command", "args")
        if isinstance(container.get(field), list)
        for word in container[field]
    ]
    for position, word in enumerate(words):
        flag, sep, value = word.partition("=")
        if not sep and position + 1 < len(words):
            value = words[position + 1]
        found.setdefault(flag, value)
    for entry in as_mappings(container.get("env")):
        if "value" in entry:
            found.setdefault(str(entry.get("name")), str(entry.get("value")))
    return found


def cluster_default(inventory: Inventory) -> ClusterDefault | None:
    """A kube-downscaler Deployment's default schedule, if one runs."""

    def build() -> ClusterDefault | None:
        for workload in inventory.workloads():
            for container in workload.containers():
                if "downscaler" not in str(container.spec.get("image") or ""):
                    continue
                values = _flag_values(container.spec)
                for flag, env in _DEFAULT_FLAGS.items():
                    value = values.get(flag) or values.get(env) or ""
                    if value.strip().lower() not in _NO_SCHEDULE:
                        raw = values.get(_EXCLUDE_FLAG) or values.get(_EXCLUDE_ENV) or "kube-system"
                        excluded = frozenset(n.strip() for n in raw.split(",") if n.strip())
                        schedule = f"kube-downscaler {flag} {_shown(value)!r}"
                        return ClusterDefault(schedule, excluded)
        return None

    return inventory.memo("sustainability:downscaler-default", build)


def _keda(inventory: Inventory, workload: Workload) -> str | None:
    for scaler in inventory.scalers_targeting(workload.kind, workload.namespace, workload.name):
        if kind_of(scaler) != "ScaledObject":
            continue
        spec = dig(scaler, "spec")
        if any(t.get("type") == "cron" for t in as_mappings(spec.get("triggers"))):
            return f"KEDA cron trigger (ScaledObject {name_of(scaler)})"
        if int_or_none(spec.get("minReplicaCount", 0)) == 0:
            return f"KEDA scales it to zero when idle (ScaledObject {name_of(scaler)})"
    return None


def _sleep_info(inventory: Inventory, workload: Workload) -> str | None:
    field = "suspendDeployments" if workload.kind == "Deployment" else "suspendStatefulSets"
    for info in inventory.objects("SleepInfo", workload.namespace):
        spec = dig(info, "spec")
        if not spec.get("sleepAt") or spec.get(field) is False:
            continue
        if any(_excluded_by(ref, workload) for ref in as_mappings(spec.get("excludeRef"))):
            continue
        return f"kube-green SleepInfo {name_of(info)}"
    return None


def _excluded_by(ref: KubeObject, workload: Workload) -> bool:
    if ref.get("name"):
        return ref.get("kind") == workload.kind and ref.get("name") == workload.name
    wanted = string_map(ref.get("matchLabels"))
    labels = workload.object_labels
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())


def scale_down(
    inventory: Inventory, workload: Workload, namespace: KubeObject
) -> tuple[str | None, str | None]:
    """(what scales the workload down, what opts it out): one of them or neither."""
    own, ns_annotations = workload.object_annotations, annotations_of(namespace)
    where = f"{workload.kind} {workload.name}"
    opt_out = _opt_out(own, where) or _opt_out(ns_annotations, f"namespace {name_of(namespace)}")
    default = cluster_default(inventory)
    downscaler = (
        _annotation_schedule(own, where)
        or _annotation_schedule(ns_annotations, f"namespace {name_of(namespace)}")
        or (default.schedule if default and workload.namespace not in default.excluded else None)
    )
    if downscaler and not opt_out:
        return downscaler, None
    other = _keda(inventory, workload) or _sleep_info(inventory, workload)
    if other:
        return other, None
    return None, opt_out


@check(SUS_005)
def always_on(ctx: Context[Any]) -> Iterator[Finding]:
    params: NonProductionParams = ctx.params
    inventory = ctx.inventory
    for namespace_name, label in _candidates(inventory, params):
        namespace = inventory.get("Namespace", "", namespace_name) or {}
        workloads = _running(inventory, namespace_name)
        covered: list[str] = []
        missing: list[str] = []
        for workload in workloads:
            schedule, opt_out = scale_down(inventory, workload, namespace)
            if schedule:
                covered.append(schedule)
            else:
                reason = f" ({opt_out})" if opt_out else ""
                missing.append(f"{workload.kind} {workload.name}{reason}")
        ref = ObjectRef("Namespace", namespace_name, "")
        if missing:
            listed = ", ".join(missing[:_LISTED])
            if len(missing) > _LISTED:
                listed += f" and {len(missing) - _LISTED} more"
            yield Finding.failing(
                ref,
                f"{label}: no scale-down schedule for {len(missing)} of {len(workloads)} "
                f"running Deployments and StatefulSets: {listed}",
            )
        else:
            reasons = ", ".join(sorted(set(covered))[:_LISTED])
            yield Finding.passing(
                ref,
                f"{label}: every running Deployment and StatefulSet ({len(workloads)}) scales "
                f"down ({reasons})",
            )


CHECKS = (always_on,)
