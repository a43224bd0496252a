"""SEC-016..SEC-018: hard-coded credentials, Secrets in env and sensitive ConfigMaps; the
heuristics, their parameters, and that no result ever carries a secret value."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from assay.server.checks.kit.params import build_params
from assay.server.checks.security.credentials import (
    CredentialParams,
    Heuristics,
    assignments,
    decoded,
    name_words,
    trivial,
)
from assay.server.core.types import Status
from assay.server.inventory import read_manifests, workload_of
from assay.server.inventory.raw import as_mapping, as_mappings
from tests.unit.checks.objects import container, pod
from tests.unit.checks.runs import FIXTURES, only, policy_params, run
from tests.unit.checks.test_fixtures import run_fixture

HEURISTICS = Heuristics.of(CredentialParams())
FIXTURE_SECRETS = (
    "Winter2024!",
    "mailer-pass-77",
    "pk-7741-loyalty",
    "S3cr3tPassw0rd",
    "AKIAIOSFODNN7EXAMPLE",
    "q8Zt3vRk1XwN7pLm2YcB9sDf4HgJ6aUe",
    "tok-5521-settlement-prod",
    "relay-mailer-2024",
    "Ledger-Reports-99",
    "b7Xq2Lp9Vz4Rk8Nw3Ty6",
    "BEGIN OPENSSH PRIVATE KEY",
    "MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu",
)


def _flagged_values(path: Path) -> set[str]:
    """Every value in the fixture that the heuristics call a credential (whole values and
    values inside configuration files), plus their URL passwords."""
    objects, _ = read_manifests(path)
    found: set[str] = set()
    for obj in objects:
        workload = workload_of(obj)
        if workload is not None:
            for c in workload.containers():
                for env in as_mappings(c.spec.get("env")):
                    value = env.get("value")
                    if isinstance(value, str) and HEURISTICS.judge(str(env.get("name")), value):
                        found.add(value)
        for key, value in as_mapping(obj.get("data")).items():
            if HEURISTICS.judge(key, value):
                found.add(value)
            found.update(v for _, k, v in assignments(value) if HEURISTICS.judge(k, v))
        for value in as_mapping(obj.get("binaryData")).values():
            found.update({value, decoded(value)})
    for value in list(found):
        found.update(re.findall(r"://[^:/@]+:([^@/]+)@", value))
    return {v for v in found if v.strip()}


@pytest.mark.parametrize(
    "path",
    sorted((FIXTURES / "SEC-016").glob("*.yaml")) + sorted((FIXTURES / "SEC-018").glob("*.yaml")),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_no_result_message_contains_a_secret_value(path: Path) -> None:
    messages = [f.message for f in run_fixture(path)]
    secrets = _flagged_values(path) | set(FIXTURE_SECRETS)
    # any six consecutive characters of a secret would already give part of it away
    pieces = {s[i : i + 6] for s in secrets for i in range(max(1, len(s) - 5))}
    leaked = [(piece, m) for piece in pieces for m in messages if piece in m]
    assert not leaked
    if path.name.startswith("failure"):
        assert any("masked" in m or "key file" in m or "PEM" in m for m in messages)


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("DB_PASSWORD", ["DB", "PASSWORD"]),
        ("dbPassword", ["DB", "PASSWORD"]),
        ("APIKey", ["API", "KEY"]),
        ("api-key.v2", ["API", "KEY", "V", "2"]),
        ("spring.datasource.password", ["SPRING", "DATASOURCE", "PASSWORD"]),
    ],
)
def test_name_words(name: str, words: list[str]) -> None:
    assert name_words(name) == words


@pytest.mark.parametrize(
    ("name", "value", "flagged"),
    [
        ("DB_PASSWORD", "hunter2", True),
        ("DBPASSWORD", "hunter2", True),
        ("DB_PASSWORD", "", False),
        ("DB_PASSWORD", "$(DB_PASSWORD_FROM_SECRET)", False),
        ("GITHUB_TOKEN", "${GITHUB_TOKEN}", False),
        ("SECRET_NAME", "payments-db", False),
        ("TOKEN_TTL", "3600", False),
        ("TOKENIZER_MODEL", "bert-base", False),
        ("PRIMARY_KEY_ENABLED", "yes", False),
        ("SERVICE_URL", "https://user:pa55word@api.example.com/v1", True),
        ("SERVICE_URL", "https://api.example.com/v1", False),
        ("SESSION", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJl", True),
        ("GIT_COMMIT", "0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e", False),
        ("CHECKSUM_SEED", "0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e", True),
        ("REQUEST_ID", "3f2504e0-4f89-11d3-9a0c-0305e82c3301", False),
        ("HOSTNAME", "kafka-0.kafka-headless.data.svc.cluster.local", False),
        ("MODEL_NAME", "ApplicationServiceName2", False),
    ],
)
def test_heuristics(name: str, value: str, flagged: bool) -> None:
    assert bool(HEURISTICS.judge(name, value)) is flagged


def test_trivial_values() -> None:
    assert trivial("true") and trivial(" 42 ") and trivial("$(A)$(B)") and trivial("''")
    assert not trivial("changeme")


def test_parameters_from_the_policy_file() -> None:
    params = policy_params(
        "SEC-016",
        """
        name_words: [PASSCODE]
        entropy_threshold: 6.5
        """,
    )
    assert params == CredentialParams(name_words=frozenset({"PASSCODE"}), entropy_threshold=6.5)
    spec = {
        "containers": [
            container(
                env=[
                    {"name": "DOOR_PASSCODE", "value": "open-sesame"},
                    {"name": "DB_PASSWORD", "value": "hunter2"},
                    {"name": "SIGNING", "value": "q8Zt3vRk1XwN7pLm2YcB9sDf4HgJ6aUe"},
                ]
            )
        ]
    }
    default = only(run("SEC-016", [pod("p", spec=spec)]))
    assert "DB_PASSWORD" in default.message and "SIGNING" in default.message
    assert "DOOR_PASSCODE" not in default.message
    custom = only(run("SEC-016", [pod("p", spec=spec)], params=params))
    assert "DOOR_PASSCODE" in custom.message
    assert "DB_PASSWORD" not in custom.message and "SIGNING" not in custom.message


def test_descriptive_words_and_entropy_length_through_build_params() -> None:
    configmap: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "shop"},
        "data": {"SECRET_ROTATION_OWNER": "team-payments", "ROUTE_SEED": "a1b2c3d4e5f6g7h8"},
    }
    default = only(run("SEC-018", [configmap]))
    assert "SECRET_ROTATION_OWNER" in default.message and "ROUTE_SEED" not in default.message
    params = build_params(
        CredentialParams, {"descriptive_words": ["OWNER"], "min_entropy_length": 8}
    )
    finding = only(run("SEC-018", [configmap], params=params))
    assert finding.status is Status.FAILING and "looks random" in finding.message
    assert "ROUTE_SEED" in finding.message and "SECRET_ROTATION_OWNER" not in finding.message


def test_sec018_lists_at_most_five_findings() -> None:
    data = {f"PASSWORD_{i}": f"value-{i}" for i in range(8)}
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "shop"},
        "data": data,
    }
    finding = only(run("SEC-018", [configmap]))
    assert finding.message.endswith("; and 3 more") and finding.message.count("PASSWORD_") == 5


def test_sec018_reads_yaml_and_env_file_lines() -> None:
    text = "database:\n  host: db\n  password: changeme\nexport API_TOKEN='abc123def'\n# token: x\n"
    assert [(n, k) for n, k, _ in assignments(text) if HEURISTICS.judge(k, _)] == [
        (3, "password"),
        (4, "API_TOKEN"),
    ]


def test_sec017_and_sec016_ignore_values_from_references() -> None:
    spec = {
        "containers": [
            container(
                env=[{"name": "TOKEN", "value": "x", "valueFrom": {"secretKeyRef": {"name": "s"}}}]
            )
        ]
    }
    assert only(run("SEC-016", [pod("p", spec=spec)])).status is Status.PASSING
    assert only(run("SEC-017", [pod("p", spec=spec)])).status is Status.FAILING


@pytest.mark.parametrize(
    "value",
    [
        "a" * (1 << 19),
        "eyJ-" * (1 << 17),
        "ab://" * (1 << 17),
        "x=" + " " * (1 << 19) + "y",
        "-----BEGIN " * (1 << 15),
        "k: v\n" * (1 << 16),
        "${" * (1 << 18),
        "{{" * (1 << 18),
    ],
    ids=["letters", "jwt-starts", "url-starts", "spaces", "pem-starts", "lines", "refs", "tpl"],
)
def test_hostile_large_values_are_judged_in_linear_time(value: str) -> None:
    """Half a megabyte each: every pattern starts only where its token starts, so these take
    a fraction of a second; a backtracking pattern would take hours on them."""
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "big", "namespace": "shop"},
        "data": {"blob": value, "number": 7, "\x00odd": "x"},
        "binaryData": {"blob.bin": "not base64 at all!", "other": None},
    }
    assert only(run("SEC-018", [configmap])).status in (Status.PASSING, Status.FAILING)
