"""Reliability checks on disaster recovery: is stateful data covered by a backup tool.

REL-029 finds the namespaces holding PersistentVolumeClaims or StatefulSets and, for each,
the backup tool objects that cover it: Velero Schedules and Backups (velero.io/v1, usually
in the velero namespace, covering namespaces through included/excludedNamespaces),
Kasten K10 backup Policies (config.kio.kasten.io, selecting namespaces by label) and Stash
BackupConfigurations (stash.appscode.com, covering their own namespace). The tool objects
are few, so each namespace is tested against each of them.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from assay.server.checks.kit import Applicability, CheckDefinition, Context, Finding, check, param
from assay.server.checks.kit.observed import unlisted_kinds
from assay.server.checks.kit.system_objects import SYSTEM_NAMESPACES
from assay.server.core.types import ObjectRef, Pillar, Severity
from assay.server.inventory import Inventory, Selector
from assay.server.inventory.raw import (
    KubeObject,
    as_mappings,
    dig,
    labels_of,
    name_of,
    namespace_of,
)

CLAIM = "PersistentVolumeClaim"
STATEFUL_SET = "StatefulSet"
K10_APP_NAMESPACE = "k10.kasten.io/appNamespace"
FAILED_BACKUP_PHASES = frozenset({"Failed", "FailedValidation"})


@dataclass(frozen=True)
class BackupParams:
    ignored_namespaces: frozenset[str] = param(
        SYSTEM_NAMESPACES,
        "namespaces never judged (the cluster rebuilds their state rather than restoring it)",
    )


@dataclass(frozen=True, slots=True)
class Tool:
    """A kind of backup tool object: its API group, its name in messages, and which
    namespaces one such object covers."""

    kind: str
    group: str
    label: str
    covers: Callable[[KubeObject, str, dict[str, str]], bool]
    live: bool = True
    """Whether the live loader lists this kind (kind names are its key, and another
    tool may own the name)."""


def _strings(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _namespace_filter(spec: KubeObject, namespace: str) -> bool:
    """Velero's includedNamespaces (empty or "*" means all; globs allowed) minus its
    excludedNamespaces."""
    included = _strings(spec.get("includedNamespaces"))
    excluded = _strings(spec.get("excludedNamespaces"))
    if any(fnmatch.fnmatchcase(namespace, pattern) for pattern in excluded):
        return False
    return not included or any(fnmatch.fnmatchcase(namespace, p) for p in included)


def _velero_schedule(schedule: KubeObject, namespace: str, labels: dict[str, str]) -> bool:
    spec = dig(schedule, "spec")
    return spec.get("paused") is not True and _namespace_filter(dig(spec, "template"), namespace)


def _velero_backup(backup: KubeObject, namespace: str, labels: dict[str, str]) -> bool:
    if dig(backup, "status").get("phase") in FAILED_BACKUP_PHASES:
        return False
    return _namespace_filter(dig(backup, "spec"), namespace)


def _k10_policy(policy: KubeObject, namespace: str, labels: dict[str, str]) -> bool:
    spec = dig(policy, "spec")
    if spec.get("paused") is True:
        return False
    if not any(a.get("action") == "backup" for a in as_mappings(spec.get("actions"))):
        return False
    raw = spec.get("selector")
    if raw is None:
        return True  # a policy without a selector protects every application
    return Selector.from_label_selector(raw).matches({**labels, K10_APP_NAMESPACE: namespace})


def _stash_configuration(config: KubeObject, namespace: str, labels: dict[str, str]) -> bool:
    return dig(config, "spec").get("paused") is not True and namespace_of(config) == namespace


TOOLS: tuple[Tool, ...] = (
    Tool("Schedule", "velero.io", "Velero Schedule", _velero_schedule),
    Tool("Backup", "velero.io", "Velero Backup", _velero_backup),
    # The live loader lists kind Policy as Kyverno's (kyverno.io): K10's is read in manifests.
    Tool("Policy", "config.kio.kasten.io", "Kasten K10 Policy", _k10_policy, live=False),
    Tool(
        "BackupConfiguration",
        "stash.appscode.com",
        "Stash BackupConfiguration",
        _stash_configuration,
    ),
)
KNOWN_TOOLS = ", ".join(f"{t.label} ({t.group})" for t in TOOLS)

REL_029 = CheckDefinition(
    id="REL-029",
    pillar=Pillar.RELIABILITY,
    name="Backup / DR signals",
    description=(
        "A namespace with persistent volumes or StatefulSets holds data that a deleted "
        "namespace, a lost volume or a broken upgrade destroys for good unless a backup "
        "tool copies it."
    ),
    severity=Severity.LOW,
    scope="C",
    remediation=(
        "Cover the namespace with a scheduled backup: a Velero Schedule whose "
        "includedNamespaces lists it (with volume snapshots or file-system backup of its "
        "volumes), a Kasten K10 backup Policy selecting it, or a Stash BackupConfiguration "
        "in it; test a restore."
    ),
    kinds=(CLAIM, STATEFUL_SET, "Namespace", *(t.kind for t in TOOLS if t.live)),
    applies_to=Applicability(
        "namespaces holding PersistentVolumeClaims or StatefulSets, except ignored_namespaces"
    ),
    params=BackupParams,
    notes=(
        f"Backup tools recognised: {KNOWN_TOOLS}. Paused Schedules, Policies and "
        "BackupConfigurations and failed Backups do not count; a Velero Schedule or Backup "
        "covers the namespaces its includedNamespaces matches (all when empty or *, globs "
        "allowed) minus excludedNamespaces; a K10 Policy with a backup action covers the "
        "namespaces its selector matches (namespace labels plus k10.kasten.io/appNamespace; "
        "all when it has none). K10 Policies are recognised in manifests only: on a live "
        "cluster the kind name Policy is listed as Kyverno's (kyverno.io).",
        "A signal, not a proof: the check does not verify that volume data (snapshots or "
        "file-system backup) is included or that backups succeed. On manifests it fails "
        "unless the tool objects are among the files.",
    ),
)


def _tool_objects(inventory: Inventory) -> list[tuple[Tool, KubeObject]]:
    found = []
    for tool in TOOLS:
        for obj in inventory.objects(tool.kind):
            if str(obj.get("apiVersion") or "").split("/")[0] == tool.group:
                found.append((tool, obj))
    return found


def _stateful_namespaces(inventory: Inventory) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for kind in (CLAIM, STATEFUL_SET):
        for namespace in inventory.namespaces_of(kind):
            counts.setdefault(namespace, {})[kind] = len(inventory.objects(kind, namespace))
    return dict(sorted(counts.items()))


def _count(counts: dict[str, int]) -> str:
    words = {CLAIM: "PersistentVolumeClaim", STATEFUL_SET: "StatefulSet"}
    return " and ".join(f"{n} {words[kind]}{'' if n == 1 else 's'}" for kind, n in counts.items())


def _covering(
    tools: Sequence[tuple[Tool, KubeObject]], namespace: str, labels: dict[str, str]
) -> Iterator[str]:
    for tool, obj in tools:
        if tool.covers(obj, namespace, labels):
            yield f"{tool.label} {namespace_of(obj)}/{name_of(obj)}"


@check(REL_029)
def backup_signals(ctx: Context[BackupParams]) -> Iterator[Finding]:
    inventory = ctx.inventory
    tools = _tool_objects(inventory)
    unlisted = sorted({t.label for t in TOOLS if t.kind in unlisted_kinds(inventory)})
    for namespace, counts in _stateful_namespaces(inventory).items():
        if namespace in ctx.params.ignored_namespaces:
            continue
        ref = ObjectRef("Namespace", namespace)
        found = inventory.get("Namespace", "", namespace)
        labels = labels_of(found) if found is not None else {}
        labels.setdefault("kubernetes.io/metadata.name", namespace)
        covering = list(_covering(tools, namespace, labels))
        holds = f"holds {_count(counts)}"
        if covering:
            shown = ", ".join(covering[:3]) + (" and more" if len(covering) > 3 else "")
            yield Finding.passing(ref, f"{holds}; covered by {shown}")
        elif unlisted:
            yield Finding.skipped(
                ref, f"{holds}; not judged: {', '.join(unlisted)} could not be listed"
            )
        else:
            yield Finding.failing(ref, f"{holds} but no backup tool object covers it")


CHECKS = (backup_signals,)
