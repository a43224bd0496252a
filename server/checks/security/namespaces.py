"""Security check on namespaces as a whole: Pod Security Admission enforcement (SEC-030).

The built-in PodSecurity admission controller reads the ``pod-security.kubernetes.io/*``
labels of a Namespace object, so only Namespace objects can be judged; namespaces that merely
hold objects in a manifest set say nothing about their labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from assay.server.checks.kit import (
    Applicability,
    CheckDefinition,
    Context,
    Verdict,
    fail,
    ok,
    param,
    per_object,
)
from assay.server.checks.kit.system_objects import SYSTEM_NAMESPACES
from assay.server.core.types import Pillar, Severity
from assay.server.inventory.raw import KubeObject, labels_of, name_of

PSA_PREFIX = "pod-security.kubernetes.io/"
ENFORCED_LEVELS = ("baseline", "restricted")


@dataclass(frozen=True)
class PodSecurityParams:
    exempt_namespaces: frozenset[str] = param(
        SYSTEM_NAMESPACES,
        "namespaces not judged: the control plane's own, which run privileged node agents",
    )


def _not_exempt(namespace: KubeObject, ctx: Context[Any]) -> bool:
    return name_of(namespace) not in ctx.params.exempt_namespaces


SEC_030 = CheckDefinition(
    id="SEC-030",
    pillar=Pillar.SECURITY,
    name="Namespace Pod Security Admission",
    description=(
        "Without an enforced Pod Security Standard a namespace admits privileged pods, host "
        "mounts and host namespaces from anyone allowed to create a pod or a workload there, "
        "whatever the manifests in Git say."
    ),
    severity=Severity.MEDIUM,
    scope="N",
    remediation=(
        "Label the namespace pod-security.kubernetes.io/enforce: restricted (or baseline "
        "where restricted is not yet possible) with pod-security.kubernetes.io/enforce-version "
        "pinned; roll out with the warn and audit labels first to see what would be rejected."
    ),
    kinds=("Namespace",),
    applies_to=Applicability(
        "Namespace objects, except the exempt namespaces (the policy's exempt_namespaces)",
        _not_exempt,
    ),
    params=PodSecurityParams,
    notes=(
        "Only the enforce label counts: warn and audit never reject a pod (they are named "
        "in the message when present). A cluster-wide default set through the admission "
        "configuration file cannot be seen from the API, so a namespace relying on it fails. "
        "Polaris, kube-score and kube-linter judge the pods themselves, not the namespace's "
        "admission labels.",
    ),
)


@per_object(SEC_030, kinds=("Namespace",), include_owned=True)
def pod_security_admission(namespace: KubeObject, ctx: Context[PodSecurityParams]) -> Verdict:
    labels = labels_of(namespace)
    enforce = labels.get(PSA_PREFIX + "enforce")
    if enforce in ENFORCED_LEVELS:
        version = labels.get(PSA_PREFIX + "enforce-version", "latest")
        return ok(f"enforces the {enforce} Pod Security Standard (version {version})")
    others = [
        f"{mode}: {labels[PSA_PREFIX + mode]}"
        for mode in ("warn", "audit")
        if PSA_PREFIX + mode in labels
    ]
    also = f" ({', '.join(others)} only report)" if others else ""
    if enforce is None:
        return fail(f"no {PSA_PREFIX}enforce label{also}")
    return fail(f"{PSA_PREFIX}enforce is {enforce!r}, not baseline or restricted{also}")


CHECKS = (pod_security_admission,)
