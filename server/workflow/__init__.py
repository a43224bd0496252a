"""Workflow execution: WorkflowExecution reconciler, target lock, Tekton PipelineRuns."""
