"""Container checks (REL-012, REL-013, REL-022): parameters, image parsing, hostile values."""

from __future__ import annotations

import pytest

from assay.server.checks.kit.images import ImageRef
from assay.server.checks.kit.params import build_params
from assay.server.checks.reliability.containers import ImageParams
from assay.server.core.types import Severity, Status
from tests.unit.checks.objects import pod
from tests.unit.checks.runs import container_statuses, only, run


@pytest.mark.parametrize(
    ("image", "name", "tag", "digest"),
    [
        ("nginx", "nginx", "", ""),
        ("nginx:1.27", "nginx", "1.27", ""),
        ("registry:5000/team/app", "registry:5000/team/app", "", ""),
        ("registry:5000/team/app:2.0", "registry:5000/team/app", "2.0", ""),
        ("app@sha256:abc", "app", "", "sha256:abc"),
        ("app:1.0@sha256:abc", "app", "1.0", "sha256:abc"),
    ],
)
def test_image_references_split_after_the_last_slash(
    image: str, name: str, tag: str, digest: str
) -> None:
    assert ImageRef.parse(image) == ImageRef(name, tag, digest)


def test_mutable_tags_and_the_pull_policy_warning_are_configurable() -> None:
    spec = pod(
        "p",
        {"name": "edge", "image": "example/app:edge", "imagePullPolicy": "Always"},
        {"name": "pinned", "image": "example/app:1.4.2"},
    )
    assert container_statuses(run("REL-013", [spec])) == {
        ("p", "edge"): Status.PASSING,
        ("p", "pinned"): Status.WARNING,
    }
    moving = build_params(ImageParams, {"mutable_tags": ["latest", "edge"]})
    assert (
        container_statuses(run("REL-013", [spec], params=moving))[("p", "edge")] is Status.FAILING
    )
    quiet = build_params(ImageParams, {"pull_policy_warning": False})
    assert (
        container_statuses(run("REL-013", [spec], params=quiet))[("p", "pinned")] is Status.PASSING
    )


def test_pull_policy_sub_finding_is_a_low_warning() -> None:
    finding = only(run("REL-013", [pod("p", {"name": "app", "image": "example/app:1.0"})]))
    assert (finding.status, finding.severity) == (Status.WARNING, Severity.LOW)
    assert "IfNotPresent (the default for a tagged image)" in finding.message


def test_hostile_image_names_give_bounded_escaped_messages() -> None:
    image = "evil\x00" + "a" * 100_000
    finding = only(run("REL-013", [pod("p", {"name": "app", "image": image})]))
    assert finding.status is Status.FAILING
    assert "\x00" not in finding.message and "\\x00" in finding.message
    assert len(finding.message) < 300


def test_malformed_digest_fails_and_missing_image_is_skipped() -> None:
    spec = pod("p", {"name": "bad", "image": "example/app@sha256:nothex"}, {"name": "unset"})
    by_container = {f.container: f for f in run("REL-013", [spec])}
    assert by_container["bad"].status is Status.FAILING
    assert "malformed digest" in by_container["bad"].message
    assert by_container["unset"].status is Status.SKIPPED


def test_memory_limit_that_is_not_a_quantity_fails() -> None:
    container = {"name": "app", "resources": {"limits": {"memory": "lots"}}}
    finding = only(run("REL-012", [pod("p", container)]))
    assert finding.status is Status.FAILING
    assert finding.message == "resources.limits.memory 'lots' is not a quantity"


def test_ephemeral_containers_are_not_asked_for_memory_limits() -> None:
    spec = pod(
        "p",
        {"name": "app", "resources": {"limits": {"memory": "64Mi"}}},
        ephemeralContainers=[{"name": "debugger", "image": "busybox:1.36"}],
    )
    assert [f.container for f in run("REL-012", [spec])] == ["app"]


def test_duplicate_env_messages_never_show_values() -> None:
    env = [
        {"name": "API_TOKEN", "value": "s3cr3t-one"},
        {"name": "API_TOKEN", "value": "s3cr3t-two"},
    ]
    finding = only(run("REL-022", [pod("p", {"name": "app", "env": env})]))
    assert finding.status is Status.FAILING
    assert "s3cr3t" not in finding.message and "API_TOKEN" in finding.message
