"""Settings of the workflow controller, one nested frozen dataclass.

The composition root builds :class:`ControllerSettings` from the server settings
(``Settings.cluster_id`` and ``Settings.workflow``) and hands it to
:class:`~assay.server.workflow.controller.WorkflowController`; tests build it directly with
small timings. Backoff and leader election are the kube package's settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from assay.server.kube.settings import BackoffSettings, LeaderElectionSettings


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
    backoff: BackoffSettings = field(default_factory=BackoffSettings)
    leader_election: LeaderElectionSettings = field(default_factory=LeaderElectionSettings)
