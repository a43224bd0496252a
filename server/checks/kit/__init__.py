"""The check kit: everything a check (built-in or plug-in) is written with.

Import from here; the submodules are the implementation::

    from assay.server.checks.kit import (
        CheckDefinition, Context, NoParams, Verdict, ok, fail, per_container, ...
    )

    definition   CheckDefinition, Finding, Verdict, Context, Applicability, Check, check
    rules        per_container, per_workload, per_object, container selections
    params       param() fields, conversion of policy values, docs rendering
    applies      common Applicability values (long-running workloads, replicated, Linux pods,
                 objects a user chose rather than Kubernetes itself)
    evaluate     the shared rules: live-only scopes, missing API groups, nothing found
    exemptions   annotation and policy exemptions
    policy       the policy file
    registry     validation and plug-in loading (entry-point group ``assay.checks``)
    catalogue    the registry as configured by the policy
    podspec, quantity   readings of pod specs and Kubernetes quantities shared by checks
    images       container image references: name, tag, digest, registry
    references   who refers to which ConfigMap, Secret, claim or ServiceAccount
    system_objects   objects Kubernetes itself creates in every cluster
    text         counts and short lists in messages
    walk         each kind's top-level objects, computed once
    resources    effective requests and limits (LimitRange defaults), QoS class, pod requests
    scheduling   node selectors, required node affinity, taints and tolerations
    owners       the top-level workload of a pod (through its controllers)
    metrics      PodMetrics and NodeMetrics (metrics.k8s.io/v1beta1) as numbers

docs/checks.md ("Writing a check plug-in") walks through writing one.
"""

from assay.server.checks.kit.applies import (
    LINUX_PODS,
    LONG_RUNNING,
    USER_OBJECTS,
    replicated,
)
from assay.server.checks.kit.definition import (
    EVERYTHING,
    Applicability,
    Check,
    CheckDefinition,
    CheckFunction,
    Context,
    Finding,
    NoParams,
    Verdict,
    check,
    fail,
    ok,
    problems_or_ok,
    skip,
    warn,
)
from assay.server.checks.kit.params import param
from assay.server.checks.kit.rules import (
    ALL_CONTAINERS,
    REGULAR_CONTAINERS,
    RESOURCE_CONTAINERS,
    RUNNING_CONTAINERS,
    Containers,
    per_container,
    per_object,
    per_workload,
    ref_of,
)

__all__ = [
    "ALL_CONTAINERS",
    "EVERYTHING",
    "LINUX_PODS",
    "LONG_RUNNING",
    "REGULAR_CONTAINERS",
    "RESOURCE_CONTAINERS",
    "RUNNING_CONTAINERS",
    "USER_OBJECTS",
    "Applicability",
    "Check",
    "CheckDefinition",
    "CheckFunction",
    "Containers",
    "Context",
    "Finding",
    "NoParams",
    "Verdict",
    "check",
    "fail",
    "ok",
    "param",
    "per_container",
    "per_object",
    "per_workload",
    "problems_or_ok",
    "ref_of",
    "replicated",
    "skip",
    "warn",
]
