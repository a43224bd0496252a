"""Settings from ASSAY_* variables, overridden by flags, validated as a whole."""

from __future__ import annotations

import pytest

from assay.server.core.errors import InvalidArgument
from assay.server.settings import Settings


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.listen == "0.0.0.0:50051"
    assert settings.assessment.check_timeout_s == 30
    assert settings.workflow.cooldown_s == 300


def test_environment_then_flags() -> None:
    env = {
        "ASSAY_LISTEN": "127.0.0.1:6000",
        "ASSAY_SCHEDULE": "0 * * * *",
        "ASSAY_WORKFLOWS": "yes",
    }
    settings = Settings.from_env(env)
    assert settings.listen == "127.0.0.1:6000"
    assert settings.assessment.schedule == "0 * * * *"
    assert settings.workflow.enabled
    overridden = settings.with_overrides(listen="127.0.0.1:7000", assessment__schedule=None)
    assert overridden.listen == "127.0.0.1:7000"
    assert overridden.assessment.schedule == "0 * * * *"


@pytest.mark.parametrize(
    ("env", "field"),
    [
        ({"ASSAY_LISTEN": "nonsense"}, "listen"),
        ({"ASSAY_SCHEDULE": "every hour"}, "schedule"),
        ({"ASSAY_HTTP_PORT": "eighty"}, "ASSAY_HTTP_PORT"),
        ({"ASSAY_WORKFLOWS": "maybe"}, "ASSAY_WORKFLOWS"),
        ({"ASSAY_CHECK_TIMEOUT": "0"}, "check_timeout"),
        ({"ASSAY_RUN_HEARTBEAT": "90"}, "run_heartbeat"),
    ],
)
def test_malformed_values_name_the_setting(env: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        Settings.from_env(env)
    assert [v.field for v in caught.value.violations] == [field]
