"""Settings of the workflow controller, one nested frozen dataclass.

The composition root builds :class:`ControllerSettings` from the server settings
(``Settings.cluster_id`` and ``Settings.workflow``) and hands it to
:class:`~assay.server.workflow.controller.WorkflowController`; tests build it directly with
small timings.
"""

from __future__ import annotations

import random
import socket
import uuid
from dataclasses import dataclass, field
from datetime import timedelta


@dataclass(frozen=True)
class BackoffSettings:
    """Exponential backoff with jitter: ``initial * factor**(n-1)``, capped, then jittered."""

    initial_s: float = 0.2
    max_s: float = 30.0
    factor: float = 2.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Delay before retry number ``attempt`` (1-based): half fixed, half random."""
        base = min(self.max_s, self.initial_s * self.factor ** max(0, attempt - 1))
        return base / 2 + (rng or random).uniform(0, base / 2)


def _default_identity() -> str:
    return f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class LeaderElectionSettings:
    enabled: bool = True
    lease_name: str = "assay-workflow-controller"
    lease_namespace: str = ""  # empty: the execution namespace
    identity: str = field(default_factory=_default_identity)
    lease_duration_s: float = 15.0
    renew_deadline_s: float = 10.0
    retry_period_s: float = 2.0


@dataclass(frozen=True)
class ControllerSettings:
    cluster_id: str = "default"
    # Where PipelineRuns and lock Leases live.
    execution_namespace: str = "kubernaut-workflows"
    # Which namespace's WorkflowExecutions to reconcile; None watches all namespaces.
    watch_namespace: str | None = None
    default_service_account: str = "kubernaut-workflow-runner"
    cooldown: timedelta = timedelta(minutes=5)
    workers: int = 4
    watch_timeout_s: int = 300
    # Re-enqueue every cached execution this often (a safety net); 0 disables.
    resync_period_s: float = 300.0
    request_timeout_s: float = 30.0
    backoff: BackoffSettings = field(default_factory=BackoffSettings)
    leader_election: LeaderElectionSettings = field(default_factory=LeaderElectionSettings)
