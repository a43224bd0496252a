"""Reliability checks on live storage status: claims and volumes that are not bound.

REL-025 reads each PersistentVolumeClaim's and PersistentVolume's phase; a Pending claim
is judged with its StorageClass (one lookup) and the kit's reference index (is any pod or
pod template using it), and its message carries the newest Warning event about it.
"""

from __future__ import annotations

from dataclasses import dataclass

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
from assay.server.checks.kit.observed import (
    OBSERVED_AT_NOTE,
    OBSERVED_KINDS,
    age_text,
    observed_at,
    parse_time,
)
from assay.server.checks.kit.references import CLAIM, used_names
from assay.server.checks.reliability.events import describe, latest_warning
from assay.server.checks.reliability.texts import one_line
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import WORKLOAD_KINDS, Inventory
from assay.server.inventory.raw import (
    KubeObject,
    annotations_of,
    dig,
    kind_of,
    metadata,
    name_of,
    namespace_of,
)

VOLUME = "PersistentVolume"
STORAGE_CLASS = "StorageClass"
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"


@dataclass(frozen=True)
class StorageHealthParams:
    grace_minutes: int = param(
        5, "how long a claim or volume may stay Pending (provisioning) before it fails"
    )


REL_025 = CheckDefinition(
    id="REL-025",
    pillar=Pillar.RELIABILITY,
    name="Storage health",
    description=(
        "A PersistentVolumeClaim that stays Pending keeps its pods from starting; a Lost "
        "claim has lost its volume, and the data with it unless backed up."
    ),
    severity=Severity.HIGH,
    scope="L",
    remediation=(
        "kubectl describe the claim: fix its storageClassName (or install the "
        "provisioner), its size or access mode, or create a matching PersistentVolume; for "
        "a Lost claim, restore the volume or its data from backup and recreate the claim; "
        "for a Failed volume, reclaim its storage by hand and delete it."
    ),
    kinds=tuple(dict.fromkeys((CLAIM, VOLUME, STORAGE_CLASS, *WORKLOAD_KINDS, *OBSERVED_KINDS))),
    applies_to=Applicability("PersistentVolumeClaims and PersistentVolumes"),
    params=StorageHealthParams,
    notes=(
        "Claims fail when Lost, or Pending for longer than grace_minutes, except a claim of "
        "a WaitForFirstConsumer StorageClass that no pod or pod template uses yet (it binds "
        "when one is scheduled). PersistentVolumes fail when Pending past the grace, or "
        "Failed (their reclamation failed; volumes have no Lost phase).",
        OBSERVED_AT_NOTE,
    ),
)


def storage_class(inventory: Inventory, claim: KubeObject) -> KubeObject | None:
    """The claim's StorageClass: the named one, or the cluster default when it names none
    (``storageClassName: ""`` asks for no class at all)."""
    name = dig(claim, "spec").get("storageClassName")
    if name == "":
        return None
    if name is not None:
        return inventory.get(STORAGE_CLASS, "", str(name))
    defaults = inventory.memo(
        "reliability:default-storage-class",
        lambda: [
            c
            for c in inventory.objects(STORAGE_CLASS)
            if annotations_of(c).get(DEFAULT_CLASS_ANNOTATION) == "true"
        ],
    )
    return defaults[-1] if defaults else None


def _pending(
    claim_or_volume: KubeObject, ctx: Context[StorageHealthParams], *, what: str, note: str = ""
) -> Verdict:
    now = observed_at(ctx.inventory)
    created = parse_time(metadata(claim_or_volume).get("creationTimestamp"))
    age = None if now is None or created is None else (now - created).total_seconds()
    warning = latest_warning(
        ctx.inventory,
        kind_of(claim_or_volume),
        namespace_of(claim_or_volume),
        name_of(claim_or_volume),
    )
    because = f" ({describe(warning)})" if warning is not None else note
    if age is not None and age <= ctx.params.grace_minutes * 60:
        return ok(f"{what} Pending for {age_text(age)}, within the grace period{because}")
    since = f" for {age_text(age)}" if age is not None else ""
    return fail(f"{what} Pending{since}{because}")


@per_object(REL_025, kinds=(CLAIM, VOLUME), include_owned=True)
def storage_health(obj: KubeObject, ctx: Context[StorageHealthParams]) -> Verdict:
    phase = str(dig(obj, "status").get("phase") or "")
    if kind_of(obj) == VOLUME:
        if phase == "Failed":
            message = one_line(dig(obj, "status").get("message"))
            return fail("volume Failed" + (f" ({message})" if message else ""))
        if phase == "Pending":
            return _pending(obj, ctx, what="volume")
        return ok(f"volume {phase or 'without a phase'}")
    if phase == "Bound":
        return ok(f"bound to {dig(obj, 'spec').get('volumeName') or 'a volume'}")
    if phase == "Lost":
        volume = dig(obj, "spec").get("volumeName")
        return fail(f"claim Lost: its PersistentVolume {volume or '(unnamed)'} no longer exists")
    if phase != "Pending":
        return ok(f"claim {phase or 'without a phase'}")
    klass = storage_class(ctx.inventory, obj)
    waits = klass is not None and klass.get("volumeBindingMode") == "WaitForFirstConsumer"
    used = (CLAIM, name_of(obj)) in used_names(ctx.inventory, namespace_of(obj))
    if waits and klass is not None:
        binding = f"StorageClass {name_of(klass)} binds WaitForFirstConsumer"
        if not used:
            return ok(f"Pending until a pod uses it ({binding})")
        return _pending(obj, ctx, what="claim", note=f" (a pod uses it and {binding})")
    return _pending(obj, ctx, what="claim")


CHECKS = (storage_health,)
