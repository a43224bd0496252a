"""The policy file: each field, each error (with file, line and key), and its effect on runs."""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path

import pytest

from assay.server.checks import builtin_registry
from assay.server.checks.kit.catalogue import Catalogue
from assay.server.checks.kit.policy import EMPTY_POLICY, PolicyError, load_policy, parse_policy
from assay.server.checks.security.pod import RootParams
from assay.server.core.errors import FailedPrecondition
from assay.server.core.types import Pillar, Severity

REGISTRY = builtin_registry()


def parse(text: str) -> Catalogue:
    return Catalogue(REGISTRY, parse_policy(textwrap.dedent(text), REGISTRY, source="p.yaml"))


def problem(text: str) -> str:
    with pytest.raises(PolicyError) as caught:
        parse_policy(textwrap.dedent(text), REGISTRY, source="p.yaml")
    return str(caught.value)


def test_the_documented_shape_is_accepted() -> None:
    catalogue = parse(
        """
        checks:
          SEC-001: {severity: low}
          REL-001: {enabled: false}
          SEC-003: {params: {low_id_threshold: 5000}}
        exemptions:
          - checks: [SEC-003]
            namespace: shop
            kind: Deployment
            name: "cart*"
            container: "*"
            reason: vendor image runs as root; tracked with the vendor
            expires: 2027-03-31
        """
    )
    sec001, sec003, rel001 = (REGISTRY.get(i) for i in ("SEC-001", "SEC-003", "REL-001"))
    assert catalogue.severity(sec001) is Severity.LOW
    assert catalogue.effective(sec001).severity is Severity.LOW
    assert catalogue.severity(sec003) is Severity.HIGH
    assert not catalogue.enabled(rel001)
    assert catalogue.params(sec003) == RootParams(low_id_threshold=5000)
    assert catalogue.params(sec001) == sec001.definition.default_params()
    [rule] = catalogue.policy.exemptions
    assert rule.checks == frozenset({"SEC-003"})
    assert rule.kind == "Deployment" and rule.expires == date(2027, 3, 31)
    assert rule.origin == "p.yaml:7"


def test_disabled_checks_are_not_selected_and_cannot_be_run_alone() -> None:
    catalogue = parse("checks: {REL-001: {enabled: false}}")
    assert "REL-001" not in {c.id for c in catalogue.select()}
    assert "REL-001" not in {c.id for c in catalogue.select(pillars=[Pillar.RELIABILITY])}
    with pytest.raises(FailedPrecondition, match="REL-001 is disabled by the policy file"):
        catalogue.select(check_id="REL-001")


def test_a_pillar_can_be_switched_off_and_a_check_back_on() -> None:
    catalogue = parse(
        """
        pillars: {sustainability: {enabled: false}}
        checks: {SUS-004: {enabled: true}}
        """
    )
    selected = {c.id for c in catalogue.select()}
    assert "SUS-001" not in selected and "SUS-004" in selected and "SEC-001" in selected


def test_empty_file_and_empty_sections_mean_defaults() -> None:
    assert parse("").policy.checks == {}
    assert parse("checks:\nexemptions: []\n").policy.exemptions == ()
    assert {c.id for c in Catalogue(REGISTRY, EMPTY_POLICY).select()} == set(REGISTRY.ids())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("checks:\n  SEC-999: {enabled: false}\n", "line 2, checks.SEC-999: unknown check id"),
        ("checks:\n  SEC_001: {enabled: false}\n", "did you mean SEC-001?"),
        (
            "checks:\n  SEC-001: {enabeld: false}\n",
            "line 2, checks.SEC-001.enabeld: unknown field; did you mean enabled?",
        ),
        (
            "checks:\n  SEC-001:\n    enabled: 'no'\n",
            "line 3, checks.SEC-001.enabled: expected true or false, got 'no'",
        ),
        (
            "checks:\n  SEC-001: {severity: urgent}\n",
            "checks.SEC-001.severity: expected one of info, low, medium, high, critical",
        ),
        (
            "checks:\n  SEC-003:\n    params:\n      low_id_treshold: 5\n",
            "line 4, checks.SEC-003.params.low_id_treshold: unknown parameter "
            "(known: low_id_threshold)",
        ),
        (
            "checks:\n  SEC-003:\n    params:\n      low_id_threshold: '5'\n",
            "line 4, checks.SEC-003.params.low_id_threshold: expected an integer, got string '5'",
        ),
        (
            "checks:\n  SEC-001: {params: {x: 1}}\n",
            "checks.SEC-001.params.x: unknown parameter (known: none)",
        ),
        ("exemptions:\n  - checks: [SEC-001]\n", "line 2, exemptions[0].reason: required"),
        ("exemptions:\n  - reason: because\n", "line 2, exemptions[0].checks: required"),
        (
            "exemptions:\n  - checks: [SEC-001]\n    reason: x\n    expires: soon\n",
            "line 4, exemptions[0].expires: expected a date YYYY-MM-DD, got 'soon'",
        ),
        (
            "exemptions:\n  - checks: [SEC-001]\n    reason: x\n    team: a\n",
            "line 4, exemptions[0].team: unknown field",
        ),
        (
            "exemptions:\n  - checks: [NOPE]\n    reason: x\n",
            "line 2, exemptions[0].checks[0]: unknown check id",
        ),
        ("exemptions: {checks: [all]}\n", "line 1, exemptions: expected a list of rules"),
        ("chekcs: {}\n", "line 1, chekcs: unknown field; did you mean checks?"),
        (
            "checks:\n  SEC-001: {enabled: false}\n  SEC-001: {enabled: true}\n",
            "line 3, checks.SEC-001: duplicate key (first on line 2)",
        ),
        ("checks: [SEC-001]\n", "line 1, checks: expected a mapping"),
        ("checks: {SEC-001: {enabled: false}\n", "not valid YAML"),
        ("version: 2\n", "line 1, version: only version 1 exists"),
        ("pillars: {money: {enabled: false}}\n", "line 1, pillars.money: unknown pillar"),
    ],
)
def test_each_error_names_file_line_and_key(text: str, expected: str) -> None:
    message = problem(text)
    assert message.startswith("policy file p.yaml, ")
    assert expected in message


def test_every_problem_is_collected_and_counted() -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(
            "checks:\n  SEC-999: {}\n  SEC-001: {severity: x}\nexemptions:\n  - checks: [all]\n",
            REGISTRY,
            source="p.yaml",
        )
    assert len(caught.value.problems) == 3
    assert str(caught.value).endswith("(and 2 more problems)")


def test_alias_expansion_is_bounded() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for level in range(1, 8):
        bomb += (
            f"{chr(97 + level)}: &{chr(97 + level)} ["
            + ", ".join([f"*{chr(96 + level)}"] * 10)
            + "]\n"
        )
    text = bomb + "checks:\n  SEC-003:\n    params:\n      low_id_threshold: *h\n"
    assert "values (aliases included)" in problem(text)


def test_load_reads_a_file_and_reports_a_missing_one(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("\ufeffchecks: {SEC-001: {severity: info}}\n")  # a BOM is fine
    policy = load_policy(path, REGISTRY)
    assert policy.checks["SEC-001"].severity is Severity.INFO
    with pytest.raises(PolicyError, match=r"missing\.yaml, line 0, file: No such file"):
        load_policy(tmp_path / "missing.yaml", REGISTRY)


def test_expired_rules_are_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    policy = parse_policy(
        "exemptions:\n  - checks: [all]\n    reason: r\n    expires: 2020-01-01\n",
        REGISTRY,
        source="p.yaml",
    )
    [rule] = policy.exemptions
    policy.report_expired(rule)
    policy.report_expired(rule)
    expired = [r for r in caplog.records if "expired on 2020-01-01" in r.getMessage()]
    assert len(expired) == 1 and "p.yaml:2" in expired[0].getMessage()
