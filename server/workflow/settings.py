"""Settings of the workflow controller: the ``workflow`` group of the server settings.

The composition root passes :class:`WorkflowSettings` as it is to
:class:`~assay.server.workflow.controller.WorkflowController` (with the server's cluster
id); tests build it directly with small timings. Names follow the rule of
``server/settings.py``: ``workers`` -> ``ASSAY_WORKFLOW_WORKERS`` / ``--workflow-workers``;
the switch keeps its historical ``ASSAY_WORKFLOWS`` / ``--workflows``, and leader election
its ``ASSAY_LEADER_ELECTION_*``. Backoff and leader election are the kube package's
settings (they configure its informer, work queue and elector).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from assay.server.kube.names import is_dns_label, is_dns_subdomain
from assay.server.kube.settings import BackoffSettings, LeaderElectionSettings


@dataclass(frozen=True)
class WorkflowSettings:
    enabled: bool = field(
        default=False,
        metadata={"help": "Run the WorkflowExecution controller.", "env": "ASSAY_WORKFLOWS"},
    )
    namespace: str = field(
        default="kubernaut-workflows",
        metadata={"help": "Namespace of PipelineRuns and lock Leases (and default of requests)."},
    )
    watch_namespace: str = field(
        default="",
        metadata={"help": "Namespace whose WorkflowExecutions are reconciled (empty: all)."},
    )
    default_service_account: str = field(
        default="kubernaut-workflow-runner",
        metadata={"help": "ServiceAccount of PipelineRuns whose execution names none."},
    )
    cooldown_s: float = field(
        default=300.0,
        metadata={
            "help": "Seconds before a workflow may run again on a target (0: off).",
            "min": 0,
        },
    )
    workers: int = field(
        default=4, metadata={"help": "Executions reconciled at once.", "min": 1, "max": 256}
    )
    watch_timeout_s: int = field(
        default=300,
        metadata={"help": "Seconds one watch request lasts before it resumes.", "min": 1},
    )
    resync_period_s: float = field(
        default=300.0,
        metadata={
            "help": "Seconds between re-queues of every unfinished execution (0: off).",
            "min": 0,
        },
    )
    sync_timeout_s: float = field(
        default=30.0,
        metadata={"help": "Seconds start-up waits for the first lists of the cluster.", "gt": 0},
    )
    backoff: BackoffSettings = field(
        default_factory=BackoffSettings,
        metadata={"help": "Retry backoff of reconciles and watches."},
    )
    leader_election: LeaderElectionSettings = field(
        default_factory=LeaderElectionSettings,
        metadata={"help": "Leader election among replicas.", "prefix": "LEADER_ELECTION_"},
    )

    def problems(self) -> Iterator[tuple[str, str]]:
        if not is_dns_label(self.namespace):
            yield "namespace", "must be a namespace name (a DNS label)"
        if self.watch_namespace and not is_dns_label(self.watch_namespace):
            yield "watch_namespace", "must be a namespace name (a DNS label) or empty"
        if not is_dns_subdomain(self.default_service_account):
            yield "default_service_account", "must be a ServiceAccount name (a DNS subdomain)"
