"""Workflow execution: WorkflowExecution reconciler, target lock, Tekton PipelineRuns.

Entry point: :class:`assay.server.workflow.controller.WorkflowController` (built by the
composition root, called by the gRPC servicer). Map of the package::

    controller   facade (create/get/list/watch) + runtime (informers, queue, workers, leader)
    reconciler   one flat reconcile per execution, over:
      lock         Lease-based target locks and the history-based cooldown
      tekton       PipelineRun builder, ownership, status parser
      failure      FailureDetails classification
      phase        the phase state machine
      status       status-subresource writes with conflict retries
      trail        audit events (through the AuditSink port in ``audit``)
    changes      phase-change fan-out to watchers
    model, naming, timeutil, validation, settings, memory, errors   vocabulary and helpers

The Kubernetes client, its errors and the controller plumbing (informer, work queue,
leader election, events, conflict retries) are :mod:`assay.server.kube`. Nothing here
imports storage, gRPC or ``assay.v1`` (see docs/design.md, "Layers").
"""
