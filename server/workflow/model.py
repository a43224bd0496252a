"""Names, enums and payload shapes of the WorkflowExecution API and the objects around it.

Everything in :mod:`assay.server.workflow` imports its vocabulary from here: the CRD's
group/version/plural and the :class:`~assay.server.kube.resources.Resource` of each custom
resource it uses, the labels and annotations the reconciler writes, the phase, skip and
failure-reason enums (their values are the CRD's enum values), and ``TypedDict`` shapes of the
status sub-objects the reconciler produces. Objects read from the API stay plain dicts
(:data:`KubeObject`, see :mod:`assay.server.kube.objects`).
"""

from __future__ import annotations

import enum
from typing import Any, NewType, TypedDict

from assay.server.kube.objects import KubeObject as KubeObject
from assay.server.kube.objects import meta as meta
from assay.server.kube.resources import Resource

ExecutionKey = NewType("ExecutionKey", str)
"""``namespace/name`` of a WorkflowExecution: the work-queue key."""

GROUP = "workflowexecution.kubernaut.ai"
VERSION = "v1alpha1"
PLURAL = "workflowexecutions"
KIND = "WorkflowExecution"
API_VERSION = f"{GROUP}/{VERSION}"

TEKTON_GROUP = "tekton.dev"
TEKTON_VERSION = "v1"
PIPELINERUN_PLURAL = "pipelineruns"
TASKRUN_PLURAL = "taskruns"

FINALIZER = f"{GROUP}/cleanup"

WORKFLOW_EXECUTIONS = Resource(GROUP, VERSION, PLURAL, kind=KIND)
PIPELINE_RUNS = Resource(TEKTON_GROUP, TEKTON_VERSION, PIPELINERUN_PLURAL, kind="PipelineRun")
TASK_RUNS = Resource(TEKTON_GROUP, TEKTON_VERSION, TASKRUN_PLURAL, kind="TaskRun")

# Labels written on PipelineRuns, Leases and WorkflowExecutions (values sanitised).
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY = "assay-workflow-controller"
LABEL_EXECUTION = f"{GROUP}/execution"
LABEL_EXECUTION_NAMESPACE = f"{GROUP}/execution-namespace"
LABEL_EXECUTION_UID = f"{GROUP}/execution-uid"
LABEL_WORKFLOW_ID = f"{GROUP}/workflow-id"
LABEL_TARGET = f"{GROUP}/target"
LABEL_TARGET_HASH = f"{GROUP}/target-hash"

# Annotations carry the raw (unsanitised) values that labels can only approximate.
ANNOTATION_TARGET = f"{GROUP}/target-resource"
ANNOTATION_EXECUTION = f"{GROUP}/execution"
ANNOTATION_WORKFLOW_ID = f"{GROUP}/workflow-id"
ANNOTATION_STARTED_AT = f"{GROUP}/started-at"
# Who asked for an execution through the gRPC API (the server creates it with its own
# credentials, so the cluster's audit log would only show the server).
ANNOTATION_REQUESTED_BY = f"{GROUP}/requested-by"

TEKTON_PIPELINERUN_LABEL = "tekton.dev/pipelineRun"
TEKTON_PIPELINE_TASK_LABEL = "tekton.dev/pipelineTask"

TARGET_RESOURCE_PARAM = "TARGET_RESOURCE"


class Phase(enum.StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"
    SKIPPED = "Skipped"


class SkipReason(enum.StrEnum):
    RESOURCE_BUSY = "ResourceBusy"
    RECENTLY_REMEDIATED = "RecentlyRemediated"


class FailureReason(enum.StrEnum):
    OOM_KILLED = "OOMKilled"
    DEADLINE_EXCEEDED = "DeadlineExceeded"
    FORBIDDEN = "Forbidden"
    RESOURCE_EXHAUSTED = "ResourceExhausted"
    CONFIGURATION_ERROR = "ConfigurationError"
    IMAGE_PULL_BACK_OFF = "ImagePullBackOff"
    TASK_FAILED = "TaskFailed"
    UNKNOWN = "Unknown"


class ObjectRef(TypedDict):
    name: str
    namespace: str


class PipelineRunStatusSummary(TypedDict, total=False):
    status: str
    reason: str
    message: str
    completedTasks: int
    failedTasks: int
    totalTasks: int


class ConflictingWorkflow(TypedDict, total=False):
    name: str
    namespace: str
    workflowId: str
    startedAt: str


class RecentRemediation(TypedDict, total=False):
    name: str
    namespace: str
    workflowId: str
    completedAt: str
    outcome: str
    cooldownRemaining: str


class SkipDetails(TypedDict, total=False):
    reason: str
    message: str
    skippedAt: str
    conflictingWorkflow: ConflictingWorkflow
    recentRemediation: RecentRemediation


class FailureDetails(TypedDict, total=False):
    failedTaskIndex: int
    failedTaskName: str
    failedStepName: str
    reason: str
    message: str
    exitCode: int
    failedAt: str
    executionTimeBeforeFailure: str
    naturalLanguageSummary: str
    wasExecutionFailure: bool


def execution_key(namespace: str, name: str) -> ExecutionKey:
    return ExecutionKey(f"{namespace}/{name}")


def split_key(key: ExecutionKey) -> tuple[str, str]:
    namespace, _, name = key.partition("/")
    return namespace, name


def spec_of(obj: KubeObject) -> dict[str, Any]:
    value = obj.get("spec")
    return value if isinstance(value, dict) else {}


def status_of(obj: KubeObject) -> dict[str, Any]:
    value = obj.get("status")
    return value if isinstance(value, dict) else {}


def phase_of(obj: KubeObject) -> Phase:
    """The execution's phase; an object the reconciler has not touched yet is Pending."""
    raw = status_of(obj).get("phase")
    try:
        return Phase(raw) if raw else Phase.PENDING
    except ValueError:
        return Phase.PENDING


def workflow_id_of(obj: KubeObject) -> str:
    """``spec.workflowRef.workflowId`` ('' when absent)."""
    ref = spec_of(obj).get("workflowRef")
    return str(ref.get("workflowId", "")) if isinstance(ref, dict) else ""
