"""Image references reduced to registry/path, and the registry allow-list over them."""

from __future__ import annotations

import pytest

from assay.server.auth.images import from_registry, image_repository, is_registry_prefix


@pytest.mark.parametrize(
    ("reference", "repository"),
    [
        ("quay.io/kubernaut/restart-pods:1.0.0", "quay.io/kubernaut/restart-pods"),
        ("Quay.IO/kubernaut/restart-pods", "quay.io/kubernaut/restart-pods"),
        ("nginx", "docker.io/library/nginx"),
        ("nginx:1.27", "docker.io/library/nginx"),
        ("bitnami/redis:7", "docker.io/bitnami/redis"),
        ("localhost:5000/tools/fix:v1", "localhost:5000/tools/fix"),
        ("localhost/tools", "localhost/tools"),
        ("registry.local/a/b/c", "registry.local/a/b/c"),
        ("ghcr.io/org/app@sha256:" + "a" * 64, "ghcr.io/org/app"),
    ],
)
def test_references_are_normalised(reference: str, repository: str) -> None:
    assert image_repository(reference) == repository


@pytest.mark.parametrize(
    "reference",
    [
        "",
        "quay.io/org/../evil",
        "quay.io/org//app",
        "quay.io/Org/app",
        "quay.io/org/app:",
        "quay.io/org/app:bad tag",
        "quay.io/org/app@sha256:short",
        "-bad.io/app",
        "quay.io/" + "a" * 600,
    ],
)
def test_invalid_references_have_no_repository(reference: str) -> None:
    assert image_repository(reference) is None


ALLOWED = ("quay.io/kubernaut", "localhost:5000")


@pytest.mark.parametrize(
    ("reference", "allowed"),
    [
        ("quay.io/kubernaut/restart-pods:1.0.0", True),
        ("quay.io/kubernaut/nested/tool", True),
        ("localhost:5000/anything", True),
        ("quay.io/kubernautevil/restart-pods", False),  # whole path components only
        ("quay.io/other/restart-pods", False),
        ("quay.io.evil.com/kubernaut/restart-pods", False),
        ("evil.com/quay.io/kubernaut/x", False),
        ("localhost:5001/anything", False),
        ("kubernaut/restart-pods", False),  # Docker Hub
        ("quay.io/kubernaut/../evil", False),  # not a valid reference at all
    ],
)
def test_the_allow_list_matches_registries_and_path_prefixes(reference: str, allowed: bool) -> None:
    assert from_registry(reference, ALLOWED) is allowed


def test_an_empty_allow_list_allows_any_image() -> None:
    assert from_registry("anything:at-all", ())


@pytest.mark.parametrize(
    ("entry", "valid"),
    [
        ("quay.io", True),
        ("quay.io/kubernaut", True),
        ("localhost:5000", True),
        ("docker.io/library", True),
        ("quay.io/", False),
        ("quay.io/Kubernaut", False),
        ("quay .io", False),
        ("", False),
    ],
)
def test_registry_entries_are_validated(entry: str, valid: bool) -> None:
    assert is_registry_prefix(entry) is valid
