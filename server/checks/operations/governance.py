"""Operational-excellence check on admission and audit governance (OPS-011): a policy engine
or validating admission guards what enters the cluster, and the API server keeps an audit
log where its static pod is visible."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from assay.server.checks.kit import (
    Applicability,
    CheckDefinition,
    Context,
    Finding,
    check,
    param,
    ref_of,
)
from assay.server.checks.kit.text import counted
from assay.server.core.types import Pillar, Severity, Source
from assay.server.inventory import ContainerKind, Inventory, containers
from assay.server.inventory.raw import KubeObject, as_mappings, dig, labels_of, name_of

ADMISSION_GROUP = "admissionregistration.k8s.io"
POLICY_KINDS: dict[str, tuple[str, str]] = {
    "ClusterPolicy": ("kyverno.io", "Kyverno"),
    "Policy": ("kyverno.io", "Kyverno"),
    "ConstraintTemplate": ("templates.gatekeeper.sh", "Gatekeeper"),
}
"""Kind -> (API group, engine) of the policy engines' custom resources."""
ENGINE_WEBHOOK_SUFFIXES = {".kyverno.svc": "Kyverno", ".gatekeeper.sh": "Gatekeeper"}
"""Webhook names (webhooks[].name) by which the engines' admission webhooks are known."""
AUDIT_LOG_FLAGS = ("--audit-log-path", "--audit-webhook-config-file")
AUDIT_POLICY_FLAG = "--audit-policy-file"


@dataclass(frozen=True)
class GovernanceParams:
    policy_webhooks: frozenset[str] = param(
        frozenset(),
        "names of further Validating/MutatingWebhookConfigurations that count as a policy "
        "engine (e.g. Kubewarden's or an in-house admission controller)",
    )


OPS_011 = CheckDefinition(
    id="OPS-011",
    pillar=Pillar.OPERATIONAL_EXCELLENCE,
    name="Admission and audit governance",
    description=(
        "Rules that only live in documents are not enforced: a policy engine or "
        "ValidatingAdmissionPolicy rejects what breaks them at admission, and the API "
        "server's audit log records who changed what."
    ),
    severity=Severity.LOW,
    scope="C",
    remediation=(
        "Enforce your policies at admission with Kyverno, Gatekeeper or built-in "
        "ValidatingAdmissionPolicies (each bound by a ValidatingAdmissionPolicyBinding); "
        "start kube-apiserver with --audit-policy-file and --audit-log-path (or "
        "--audit-webhook-config-file), or enable your provider's control-plane audit logs."
    ),
    kinds=(
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        *POLICY_KINDS,
        "Pod",
    ),
    applies_to=Applicability(
        "the cluster's admission configuration, and kube-apiserver static pods in "
        "kube-system when the control plane is visible"
    ),
    params=GovernanceParams,
    notes=(
        "Recognises Kyverno (kyverno.io ClusterPolicy and Policy, or its webhooks), "
        "Gatekeeper (templates.gatekeeper.sh ConstraintTemplate, or its webhooks) and "
        "ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1) with a binding; other "
        "engines count when their webhook configuration is named in policy_webhooks.",
        "Managed control planes (EKS, GKE, AKS) show no kube-apiserver pod: their audit "
        "logs are configured with the provider and are not judged here.",
    ),
)


@check(OPS_011)
def admission_governance(ctx: Context[GovernanceParams]) -> Iterator[Finding]:
    inventory = ctx.inventory
    engines = policy_engines(inventory, ctx.params.policy_webhooks)
    blind = inventory.source is Source.LIVE and not inventory.has_api(ADMISSION_GROUP)
    if engines:
        yield Finding.passing(None, "admission policy enforced by " + ", ".join(engines))
    elif blind:
        yield Finding.skipped(
            None,
            f"no Kyverno or Gatekeeper objects, and the cluster does not serve {ADMISSION_GROUP} "
            "to show webhooks or ValidatingAdmissionPolicies",
        )
    else:
        yield Finding.failing(
            None,
            "no policy engine or validating admission: no Kyverno policies, Gatekeeper "
            "ConstraintTemplates, bound ValidatingAdmissionPolicies or policy webhooks",
        )
    for pod in inventory.objects("Pod", "kube-system"):
        command = _apiserver_command(pod)
        if command is not None:
            yield _audit_finding(pod, command)


def policy_engines(inventory: Inventory, extra_webhooks: frozenset[str]) -> list[str]:
    """What enforces policy at admission, e.g. ``["Kyverno (12 policies)"]``."""
    found: Counter[str] = Counter()
    for kind, (group, engine) in POLICY_KINDS.items():
        for obj in inventory.objects(kind):
            if str(obj.get("apiVersion") or "").startswith(group + "/"):
                found[engine] += 1
    named = [
        f"{engine} ({counted(n, 'policy', 'policies')})" for engine, n in sorted(found.items())
    ]
    for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        for config in inventory.objects(kind):
            engine = _webhook_engine(config, extra_webhooks)
            if engine and not any(n.startswith(engine) for n in named):
                named.append(f"{engine} (webhook {name_of(config)})")
    bound = {
        str(dig(b, "spec").get("policyName"))
        for b in inventory.objects("ValidatingAdmissionPolicyBinding")
    }
    policies = [name_of(p) for p in inventory.objects("ValidatingAdmissionPolicy")]
    enforced = [p for p in policies if p in bound]
    if enforced:
        named.append(
            counted(
                len(enforced),
                "bound ValidatingAdmissionPolicy",
                "bound ValidatingAdmissionPolicies",
            )
        )
    return named


def _webhook_engine(config: KubeObject, extra: frozenset[str]) -> str:
    if name_of(config) in extra:
        return f"webhook configuration {name_of(config)}"
    for webhook in as_mappings(config.get("webhooks")):
        name = str(webhook.get("name") or "")
        for suffix, engine in ENGINE_WEBHOOK_SUFFIXES.items():
            if name.endswith(suffix):
                return engine
    return ""


def _apiserver_command(pod: KubeObject) -> list[str] | None:
    """The command line of the pod's kube-apiserver container, if it runs one."""
    labelled = labels_of(pod).get("component") == "kube-apiserver"
    for container in containers(dig(pod, "spec"), frozenset({ContainerKind.CONTAINER})):
        line = _strings(container.spec.get("command")) + _strings(container.spec.get("args"))
        program = line[0].rsplit("/", 1)[-1] if line else ""
        if labelled or container.name == "kube-apiserver" or program == "kube-apiserver":
            return line
    return None


def _strings(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _flag_value(line: Sequence[str], flag: str) -> str | None:
    """The value of ``--flag=value`` or ``--flag value`` in ``line``; None when absent."""
    for position, item in enumerate(line):
        if item.startswith(flag + "="):
            return item.split("=", 1)[1]
        if item == flag and position + 1 < len(line):
            return line[position + 1]
    return None


def _audit_finding(pod: KubeObject, line: list[str]) -> Finding:
    ref = ref_of("Pod", pod)
    policy = _flag_value(line, AUDIT_POLICY_FLAG)
    sinks = [f for f in AUDIT_LOG_FLAGS if _flag_value(line, f)]
    if policy and sinks:
        return Finding.passing(ref, f"audit logging on ({AUDIT_POLICY_FLAG}={policy}, {sinks[0]})")
    missing = [] if policy else [AUDIT_POLICY_FLAG]
    if not sinks:
        missing.append(" or ".join(AUDIT_LOG_FLAGS))
    return Finding.failing(
        ref, f"kube-apiserver runs without {' and '.join(missing)}: API requests are not audited"
    )


CHECKS = (admission_governance,)
