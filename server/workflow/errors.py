"""Errors of the workflow layer (Kubernetes API failures are :mod:`assay.server.kube.errors`).

Hierarchy::

    WorkflowError
    ├── InvalidTransition         a write would break the phase state machine
    └── PipelineRunNameTaken      the deterministic PipelineRun name holds a foreign object

The reconciler retries every error (these and any
:class:`~assay.server.kube.errors.KubeError`) with per-key backoff; none of them is recorded
as a workflow failure. :class:`~assay.server.workflow.controller.WorkflowController` (the
facade the gRPC layer calls) translates Kubernetes errors into
:mod:`assay.server.core.errors` at its boundary with
:func:`~assay.server.kube.errors.domain_error`.
"""

from __future__ import annotations

from assay.server.workflow.model import Phase


class WorkflowError(Exception):
    """Base of every workflow-layer error."""


class InvalidTransition(WorkflowError):
    def __init__(self, *, current: Phase, target: Phase) -> None:
        self.current = current
        self.target = target
        super().__init__(f"phase transition {current} -> {target} is not allowed")


class PipelineRunNameTaken(WorkflowError):
    def __init__(self, namespace: str, name: str) -> None:
        self.namespace = namespace
        self.name = name
        super().__init__(
            f"PipelineRun {namespace}/{name} exists but does not belong to this execution"
        )
