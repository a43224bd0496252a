"""One settings object for the server, read from ``ASSAY_*`` environment variables.

Called by the composition root (``server.app``) and the ``assay serve`` command, whose flags
override the environment: ``Settings.from_env(os.environ).with_overrides(listen=...)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from croniter import croniter

from assay.server.core.errors import FieldViolation, InvalidArgument

DEFAULT_LISTEN = "0.0.0.0:50051"


@dataclass(frozen=True)
class AssessmentSettings:
    check_timeout_s: float = 30.0
    run_timeout_s: float = 600.0
    # Cron expression for scheduled full runs; empty disables the scheduler.
    schedule: str = ""
    schedule_source: str = "live"
    schedule_path: str = ""
    honour_exemptions: bool = True
    # Heartbeat of running runs; a run whose heartbeat is older than stale_after_s belongs to
    # a stopped server and is failed by any replica.
    heartbeat_s: float = 15.0
    stale_after_s: float = 60.0


@dataclass(frozen=True)
class WorkflowSettings:
    enabled: bool = False
    namespace: str = "kubernaut-workflows"
    cooldown_s: float = 300.0
    workers: int = 4
    leader_election: bool = True


@dataclass(frozen=True)
class Settings:
    listen: str = DEFAULT_LISTEN
    # SQLAlchemy URL; empty means the SQLite file in the user's data directory.
    database_url: str = ""
    cluster_id: str = "default"
    kube_context: str = ""
    # Path of the policy file (check switches, severities, parameters, exemptions).
    policy: str = ""
    # HTTP port for /healthz, /readyz and /metrics; 0 disables it.
    http_port: int = 9090
    shutdown_grace_s: float = 10.0
    assessment: AssessmentSettings = field(default_factory=AssessmentSettings)
    workflow: WorkflowSettings = field(default_factory=WorkflowSettings)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build settings from ``ASSAY_*`` variables; a malformed value raises InvalidArgument."""
        reader = _EnvReader(env)
        settings = cls(
            listen=reader.text("ASSAY_LISTEN", DEFAULT_LISTEN),
            database_url=reader.text("ASSAY_DATABASE_URL", ""),
            cluster_id=reader.text("ASSAY_CLUSTER_ID", "default"),
            kube_context=reader.text("ASSAY_KUBE_CONTEXT", ""),
            policy=reader.text("ASSAY_POLICY", ""),
            http_port=reader.integer("ASSAY_HTTP_PORT", 9090),
            shutdown_grace_s=reader.number("ASSAY_SHUTDOWN_GRACE", 10.0),
            assessment=AssessmentSettings(
                check_timeout_s=reader.number("ASSAY_CHECK_TIMEOUT", 30.0),
                run_timeout_s=reader.number("ASSAY_RUN_TIMEOUT", 600.0),
                schedule=reader.text("ASSAY_SCHEDULE", ""),
                schedule_source=reader.text("ASSAY_SCHEDULE_SOURCE", "live"),
                schedule_path=reader.text("ASSAY_SCHEDULE_PATH", ""),
                honour_exemptions=reader.flag("ASSAY_HONOUR_EXEMPTIONS", True),
                heartbeat_s=reader.number("ASSAY_RUN_HEARTBEAT", 15.0),
                stale_after_s=reader.number("ASSAY_RUN_STALE_AFTER", 60.0),
            ),
            workflow=WorkflowSettings(
                enabled=reader.flag("ASSAY_WORKFLOWS", False),
                namespace=reader.text("ASSAY_WORKFLOW_NAMESPACE", "kubernaut-workflows"),
                cooldown_s=reader.number("ASSAY_WORKFLOW_COOLDOWN", 300.0),
                workers=reader.integer("ASSAY_WORKFLOW_WORKERS", 4),
                leader_election=reader.flag("ASSAY_LEADER_ELECTION", True),
            ),
        )
        reader.raise_if_invalid()
        return settings.validated()

    def with_overrides(self, **overrides: Any) -> Settings:
        """Apply non-None overrides (CLI flags); nested keys as ``assessment__schedule``."""
        top: dict[str, Any] = {}
        nested: dict[str, dict[str, Any]] = {}
        for key, value in overrides.items():
            if value is None:
                continue
            if "__" in key:
                group, name = key.split("__", 1)
                nested.setdefault(group, {})[name] = value
            else:
                top[key] = value
        for group, values in nested.items():
            top[group] = dataclasses.replace(getattr(self, group), **values)
        return dataclasses.replace(self, **top).validated()

    def validated(self) -> Settings:
        violations: list[FieldViolation] = []
        host, _, port = self.listen.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            violations.append(FieldViolation("listen", f"expected HOST:PORT, got {self.listen!r}"))
        if self.assessment.schedule and not croniter.is_valid(self.assessment.schedule):
            violations.append(
                FieldViolation("schedule", f"not a cron expression: {self.assessment.schedule!r}")
            )
        if self.assessment.check_timeout_s <= 0:
            violations.append(FieldViolation("check_timeout", "must be > 0"))
        if self.assessment.run_timeout_s <= 0:
            violations.append(FieldViolation("run_timeout", "must be > 0"))
        if not 0 < self.assessment.heartbeat_s < self.assessment.stale_after_s:
            violations.append(
                FieldViolation("run_heartbeat", "must be > 0 and below run_stale_after")
            )
        if self.workflow.cooldown_s < 0:
            violations.append(FieldViolation("workflow_cooldown", "must be >= 0"))
        if violations:
            raise InvalidArgument(violations)
        return self


class _EnvReader:
    """Typed reads of environment variables that collect every malformed value."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self._violations: list[FieldViolation] = []

    def text(self, name: str, default: str) -> str:
        return self._env.get(name, default)

    def integer(self, name: str, default: int) -> int:
        raw = self._env.get(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            self._violations.append(FieldViolation(name, f"expected an integer, got {raw!r}"))
            return default

    def number(self, name: str, default: float) -> float:
        raw = self._env.get(name)
        if raw is None or raw == "":
            return default
        try:
            return float(raw)
        except ValueError:
            self._violations.append(FieldViolation(name, f"expected a number, got {raw!r}"))
            return default

    def flag(self, name: str, default: bool) -> bool:
        raw = self._env.get(name)
        if raw is None or raw == "":
            return default
        value = raw.strip().lower()
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off"):
            return False
        self._violations.append(FieldViolation(name, f"expected true or false, got {raw!r}"))
        return default

    def raise_if_invalid(self) -> None:
        if self._violations:
            raise InvalidArgument(self._violations)
