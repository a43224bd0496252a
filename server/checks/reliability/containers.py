"""Reliability checks on single containers: memory limits (REL-012), mutable image tags
(REL-013) and environment variables set twice (REL-022). Listed in the pillar's ``CHECKS``.
"""

from __future__ import annotations

from dataclasses import dataclass

from assay.server.checks.kit import (
    RESOURCE_CONTAINERS,
    CheckDefinition,
    Context,
    NoParams,
    Verdict,
    fail,
    ok,
    param,
    per_container,
    skip,
    warn,
)
from assay.server.checks.kit.images import ImageRef
from assay.server.checks.kit.quantity import quantity_or_none
from assay.server.checks.kit.text import shown
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import WORKLOAD_KINDS, Container, Inventory, Workload
from assay.server.inventory.raw import as_mappings, dig, name_of, namespace_of

LIMIT_RANGE = "LimitRange"

REL_012 = CheckDefinition(
    id="REL-012",
    pillar=Pillar.RELIABILITY,
    name="Memory limit missing",
    description=(
        "A container without a memory limit can take the node's memory until the kernel's "
        "OOM killer or the kubelet's eviction picks victims, often in other pods; memory, "
        "unlike CPU, cannot be throttled back."
    ),
    severity=Severity.MEDIUM,
    scope="W",
    remediation=(
        "Set resources.limits.memory on every container and init container, sized from "
        "observed peak usage plus headroom (equal to the request for Guaranteed QoS), or give "
        "the namespace a LimitRange with a default memory limit for containers."
    ),
    kinds=(*WORKLOAD_KINDS, LIMIT_RANGE),
    notes=(
        "A container without its own limit passes when a LimitRange in its namespace gives "
        "containers a default memory limit (the API server applies it when the pod is "
        "created); kube-score and Polaris do not look at LimitRanges. Init containers are "
        "judged like kube-score does (Polaris leaves them out): an init container's limit "
        "bounds the pod while it runs.",
    ),
)


@per_container(REL_012, containers=RESOURCE_CONTAINERS)
def memory_limit(workload: Workload, container: Container, ctx: Context[NoParams]) -> Verdict:
    limit = dig(container.spec, "resources", "limits").get("memory")
    if limit is not None:
        if quantity_or_none(limit) is None:
            return fail(f"resources.limits.memory {shown(limit)} is not a quantity")
        return ok(f"limits.memory {shown(limit)}")
    default = _memory_defaults(ctx.inventory).get(workload.namespace)
    if default is not None:
        range_name, value = default
        return ok(f"no limits.memory of its own; LimitRange {range_name} defaults it to {value}")
    return fail(f"{container.role} has no resources.limits.memory")


def _memory_defaults(inventory: Inventory) -> dict[str, tuple[str, str]]:
    """Namespace -> (LimitRange, default container memory limit), built once per run."""

    def build() -> dict[str, tuple[str, str]]:
        found: dict[str, tuple[str, str]] = {}
        for limit_range in inventory.objects(LIMIT_RANGE):
            for item in as_mappings(dig(limit_range, "spec").get("limits")):
                value = dig(item, "default").get("memory")
                if item.get("type") == "Container" and quantity_or_none(value) is not None:
                    found.setdefault(
                        namespace_of(limit_range), (shown(name_of(limit_range), 60), str(value))
                    )
        return found

    return inventory.memo("reliability:limit-range-memory", build)


@dataclass(frozen=True)
class ImageParams:
    mutable_tags: frozenset[str] = param(
        frozenset({"latest"}),
        "tags that fail like a missing tag (add your registry's moving tags, e.g. main, "
        "stable, edge)",
    )
    pull_policy_warning: bool = param(
        True,
        "warn (severity low) when an image pinned by tag but not by digest is pulled with a "
        "policy other than Always",
    )


REL_013 = CheckDefinition(
    id="REL-013",
    pillar=Pillar.RELIABILITY,
    name="Mutable image tag",
    description=(
        "An image without a tag, or tagged latest, names whatever was pushed last: two pods "
        "of one workload can run different code, a restart can upgrade (or break) it "
        "silently, and a rollback has nothing to roll back to."
    ),
    severity=Severity.HIGH,
    scope="W",
    remediation=(
        "Reference images by an immutable version tag, or better by digest "
        "(registry.example.com/app:1.4.2@sha256:...), and bump it with each release; where a "
        "tag can be re-pushed, pin the digest or set imagePullPolicy: Always."
    ),
    kinds=WORKLOAD_KINDS,
    params=ImageParams,
    notes=(
        "An image pinned by digest passes whatever its tag. The sub-finding on "
        "imagePullPolicy (Always is the API default only for untagged and latest images) is "
        "a warning of severity low, softer than kube-score's failing pull-policy test and "
        "Polaris' pullPolicyNotAlways: with an immutable tag, IfNotPresent is sound.",
        "The tag is read after the last '/' of the image name, so a registry port "
        "(registry:5000/app) is not mistaken for one, unlike the simple ':' tests of "
        "kube-score and Polaris.",
    ),
)

PULL_POLICIES = frozenset({"Always", "IfNotPresent", "Never"})


def _default_pull_policy(ref: ImageRef) -> str:
    """The API default: Always for an untagged or latest image, else IfNotPresent."""
    return "IfNotPresent" if ref.tag and ref.tag != "latest" else "Always"


@per_container(REL_013)
def mutable_image_tag(
    workload: Workload, container: Container, ctx: Context[ImageParams]
) -> Verdict:
    image = container.spec.get("image")
    if not isinstance(image, str) or not image.strip():
        return skip(f"{container.role} sets no image (a tool such as kustomize may set it)")
    ref = ImageRef.parse(image.strip())
    if ref.digest:
        if ref.pinned:
            return ok("pinned by digest")
        return fail(f"image {shown(image)} has a malformed digest")
    explicit = container.spec.get("imagePullPolicy")
    if not explicit:
        policy = _default_pull_policy(ref)
    else:
        policy = str(explicit) if explicit in PULL_POLICIES else shown(explicit, 40)
    if not ref.tag or ref.tag in ctx.params.mutable_tags:
        what = "has no tag (so latest)" if not ref.tag else f"uses the mutable tag {shown(ref.tag)}"
        message = f"image {shown(image)} {what}"
        if policy != "Always":
            message += f", and imagePullPolicy {policy} keeps whichever build a node pulled first"
        return fail(message)
    if policy != "Always" and ctx.params.pull_policy_warning:
        default = "" if explicit else " (the default for a tagged image)"
        return warn(
            f"tag {shown(ref.tag)} is not pinned by digest and imagePullPolicy is "
            f"{policy}{default}: if the tag is pushed again, nodes run different builds",
            severity=Severity.LOW,
        )
    return ok(f"tag {shown(ref.tag)}, pulled {policy}")


REL_022 = CheckDefinition(
    id="REL-022",
    pillar=Pillar.RELIABILITY,
    name="Duplicate env vars",
    description=(
        "When a container sets the same environment variable twice only the last entry "
        "counts, so the value a reader sees first in the manifest is not the one the process "
        "gets; this is usually a merge of overlays or chart values gone wrong."
    ),
    severity=Severity.MEDIUM,
    scope="W",
    remediation=(
        "Keep one entry per name in each container's env: remove the earlier entries (or fix "
        "the overlay or chart value that adds them again)."
    ),
    kinds=WORKLOAD_KINDS,
    notes=(
        "Like kube-linter's duplicate-env-var. Only env entries count: env overriding a key "
        "that envFrom also provides is Kubernetes' documented precedence, not a duplicate. "
        "Messages never print the values, which may be secrets.",
    ),
)


@per_container(REL_022)
def duplicate_env(workload: Workload, container: Container, ctx: Context[NoParams]) -> Verdict:
    entries = container.spec.get("env")
    positions: dict[str, list[int]] = {}
    values: dict[str, list[object]] = {}
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            name = entry["name"]
            positions.setdefault(name, []).append(index)
            values.setdefault(name, []).append((entry.get("value"), entry.get("valueFrom")))
    problems = []
    for name, where in positions.items():
        if len(where) > 1:
            listed = ", ".join(f"env[{i}]" for i in where[:5])
            same = all(v == values[name][0] for v in values[name])
            effect = "with the same value" if same else "with different values; the last one wins"
            problems.append(f"env {shown(name, 60)} is set {len(where)} times ({listed}) {effect}")
    if problems:
        return fail("; ".join(problems[:10]))
    return ok("sets each environment variable once")


CHECKS = (memory_limit, mutable_image_tag, duplicate_env)
