"""Label sanitisation and the deterministic names the reconciler relies on."""

from __future__ import annotations

import re

import pytest

from assay.server.workflow.naming import (
    is_label_value,
    lock_lease_name,
    pipelinerun_name,
    sanitize_label_value,
)

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("web", "web"),
        ("", ""),
        ("prod/deployment/web", "prod-deployment-web"),
        ("-_.lead.and.trail._-", "lead.and.trail"),
        ("restart pods:v2", "restart-pods-v2"),
        ("Mixed_Case.ok-1", "Mixed_Case.ok-1"),
    ],
)
def test_sanitize_examples(raw: str, expected: str) -> None:
    assert sanitize_label_value(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "x" * 63,
        "x" * 64,
        "a/" * 80,
        "é" * 70,
        "___",
        "ns/" + "Deployment" * 20 + "/name",
        "-" * 100,
        "a" * 52 + "/////////////b",
    ],
)
def test_sanitized_values_are_always_valid(raw: str) -> None:
    value = sanitize_label_value(raw)
    assert is_label_value(value), value
    assert len(value) <= 63


def test_truncation_adds_a_hash_suffix_and_keeps_values_distinct() -> None:
    a = sanitize_label_value("x" * 70 + "a")
    b = sanitize_label_value("x" * 70 + "b")
    assert a != b
    assert len(a) == 63
    assert re.fullmatch(r"x{52}-[0-9a-f]{10}", a)


def test_sanitize_is_idempotent() -> None:
    for raw in ("a" * 90, "prod/deployment/web", "é" * 10):
        once = sanitize_label_value(raw)
        assert sanitize_label_value(once) == once


def test_pipelinerun_name_is_deterministic_and_a_dns_label() -> None:
    first = pipelinerun_name(namespace="ns", name="My.Execution-1", uid="u1")
    assert first == pipelinerun_name(namespace="ns", name="My.Execution-1", uid="u1")
    assert first != pipelinerun_name(namespace="ns", name="My.Execution-1", uid="u2")
    assert DNS_LABEL.match(first)
    long = pipelinerun_name(namespace="ns", name="a" * 253, uid="u1")
    assert DNS_LABEL.match(long) and len(long) <= 63


def test_lock_name_depends_on_cluster_and_target_only() -> None:
    a = lock_lease_name(cluster_id="c1", target="prod/deployment/web")
    assert a == lock_lease_name(cluster_id="c1", target="prod/deployment/web")
    assert a != lock_lease_name(cluster_id="c2", target="prod/deployment/web")
    assert a != lock_lease_name(cluster_id="c1", target="prod/deployment/api")
    assert DNS_LABEL.match(a)
    assert lock_lease_name(cluster_id="c1", target="t", slot=2).endswith("-2")
