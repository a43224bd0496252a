"""Security check on where container images come from: an allow-list of registries, digest
pinning and deprecated registries (SEC-029).

Image references are read by the kit's ``images`` module, as the container runtimes
resolve them (``nginx`` is ``docker.io/library/nginx``).
"""

from __future__ import annotations

from dataclasses import dataclass

from assay.server.checks.kit import (
    CheckDefinition,
    Context,
    Verdict,
    fail,
    ok,
    param,
    per_container,
    skip,
)
from assay.server.checks.kit.images import ImageRef
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import WORKLOAD_KINDS, Container, Workload


@dataclass(frozen=True)
class ProvenanceParams:
    allowed_registries: frozenset[str] = param(
        frozenset(),
        "registries images may come from: a host (glob allowed, e.g. "
        "*.dkr.ecr.eu-west-1.amazonaws.com) optionally followed by a path prefix "
        "(ghcr.io/acme), docker.io for Docker Hub; empty means no allow-list, so only the "
        "digest and deprecated-registry parts apply",
    )
    require_digest: bool = param(True, "fail (low) images not pinned by digest (@sha256:...)")
    deprecated_registries: frozenset[str] = param(
        frozenset({"k8s.gcr.io", "gcr.io/google_containers"}),
        "registries that are frozen or shut down (graded medium): k8s.gcr.io moved to "
        "registry.k8s.io in 2023",
    )


SEC_029 = CheckDefinition(
    id="SEC-029",
    pillar=Pillar.SECURITY,
    name="Image provenance",
    description=(
        "An image from an unvetted registry runs code nobody reviewed; a tag can be moved "
        "to different content at any time, so only a digest says what runs; a deprecated "
        "registry stops receiving fixes and may stop serving the image."
    ),
    severity=Severity.LOW,
    scope="W",
    remediation=(
        "Pull from an allowed registry (mirror third-party images into it), pin the image "
        "by digest (image: registry.example.com/app:1.4.2@sha256:...; tools such as "
        "Renovate keep digests up to date), and replace k8s.gcr.io with registry.k8s.io."
    ),
    kinds=WORKLOAD_KINDS,
    params=ProvenanceParams,
    notes=(
        "An image outside the allow-list is high, a deprecated registry medium, a missing "
        "digest low (the check's default). As with kubescape's C-0078, the allow-list only "
        "applies once configured; Polaris and kube-linter check tags (latest, missing) "
        "instead, and a tag, unlike a digest, can be moved to other content.",
    ),
)


@per_container(SEC_029)
def image_provenance(
    workload: Workload, container: Container, ctx: Context[ProvenanceParams]
) -> Verdict:
    image = container.spec.get("image")
    if not isinstance(image, str) or not image.strip():
        return skip(f"{container.role} names no image")
    ref = ImageRef.parse(image)
    params = ctx.params
    problems, severity = [], Severity.LOW
    allowed = params.allowed_registries
    if allowed and not any(ref.within(entry) for entry in allowed):
        problems.append(f"image {image} is from {ref.registry}, not an allowed registry")
        severity = Severity.HIGH
    deprecated = sorted(e for e in params.deprecated_registries if ref.within(e))
    if deprecated:
        problems.append(f"image {image} is from the deprecated registry {deprecated[0]}")
        if severity is Severity.LOW:
            severity = Severity.MEDIUM
    if params.require_digest and not ref.pinned:
        problems.append(f"image {image} is not pinned by digest")
    if problems:
        return fail("; ".join(problems), severity=None if severity is Severity.LOW else severity)
    return ok("pinned by digest" + (f", from allowed registry {ref.registry}" if allowed else ""))


CHECKS = (image_provenance,)
