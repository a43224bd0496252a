"""Prometheus metrics of the WorkflowExecution reconciler.

Built by the composition root on the process's :class:`CollectorRegistry` (tests pass their
own, so instances never clash) and handed to the workflow controller, which counts each
transition once, when its status write succeeds.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, float("inf"))


class WorkflowMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.executions = Counter(
            "workflowexecution_total",
            "WorkflowExecutions that reached a terminal phase, by outcome.",
            ["outcome"],
            registry=registry,
        )
        self.duration = Histogram(
            "workflowexecution_duration_seconds",
            "Time from start to completion of executions that ran, by outcome.",
            ["outcome"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.pipelinerun_creations = Counter(
            "workflowexecution_pipelinerun_creation",
            "PipelineRuns created (adopted ones are not counted).",
            registry=registry,
        )
        self.skips = Counter(
            "workflowexecution_skip",
            "WorkflowExecutions skipped, by reason.",
            ["reason"],
            registry=registry,
        )
        self.reconcile_errors = Counter(
            "workflowexecution_reconcile_errors",
            "Reconcile attempts that raised and were retried.",
            registry=registry,
        )
        self.queue_depth = Gauge(
            "workflowexecution_queue_depth",
            "WorkflowExecutions waiting in the reconcile queue.",
            registry=registry,
            # Over a supervisor's processes: the sum of the live ones' (the leader's).
            multiprocess_mode="livesum",
        )

    def finished(self, outcome: str, duration_s: float | None) -> None:
        self.executions.labels(outcome=outcome).inc()
        if duration_s is not None:
            self.duration.labels(outcome=outcome).observe(max(0.0, duration_s))

    def skipped(self, reason: str) -> None:
        self.executions.labels(outcome="skipped").inc()
        self.skips.labels(reason=reason).inc()
