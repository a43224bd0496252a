"""Security checks on where credentials live: literal values in container environments,
Secrets handed over as environment variables, and credentials in ConfigMaps
(SEC-016..SEC-018). Messages name the key and why it looks sensitive, never the value.
"""

from __future__ import annotations

from typing import Any

from assay.server.checks.kit import (
    CheckDefinition,
    Context,
    NoParams,
    Verdict,
    fail,
    ok,
    per_container,
    per_object,
)
from assay.server.checks.security.credentials import (
    CredentialParams,
    Heuristics,
    assignments,
    config_file,
    decoded,
    listed,
    masked,
)
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import WORKLOAD_KINDS, Container, Workload
from assay.server.inventory.raw import KubeObject, as_mapping, as_mappings, dig

HEURISTICS_NOTE = (
    "A value counts when it has the shape of a known credential (PEM private key, AWS, "
    "GitHub, GitLab, Slack, Google or Stripe key, JWT, URL with a password), when its name "
    "contains a credential word and the value is not empty, a boolean, a number, an "
    "absolute file path (TLS_KEY=/etc/tls/tls.key) or a $(VAR) reference, or when it is a "
    "random-looking token; the value itself is never stored in a result."
)

SEC_016 = CheckDefinition(
    id="SEC-016",
    pillar=Pillar.SECURITY,
    name="Hard-coded secret in env",
    description=(
        "A credential written into a pod template is readable by everyone who can read the "
        "workload (get deployments is far more widely granted than get secrets), ends up in "
        "Git, Helm release records and CI logs, and cannot be rotated without a redeploy."
    ),
    severity=Severity.HIGH,
    scope="W",
    remediation=(
        "Move the value into a Secret (or an external secret store synced into one), rotate "
        "it since it has been exposed, and mount the Secret as a file, or reference it with "
        "env[].valueFrom.secretKeyRef."
    ),
    kinds=WORKLOAD_KINDS,
    params=CredentialParams,
    notes=(
        "Broader than kube-linter's env-var-secret and Polaris's sensitiveContainerEnvVar, "
        "which match the variable name only (SECRET; PASSWORD, TOKEN, ...): we also read the "
        "value's shape and entropy, and do not fail names that only describe a credential "
        "(SECRET_NAME, TOKEN_TTL) unless the value itself looks like one.",
        HEURISTICS_NOTE,
    ),
)


@per_container(SEC_016)
def hard_coded_env(
    workload: Workload, container: Container, ctx: Context[CredentialParams]
) -> Verdict:
    heuristics = Heuristics.of(ctx.params)
    found = []
    for env in as_mappings(container.spec.get("env")):
        value = env.get("value")
        if not isinstance(value, str) or "valueFrom" in env:
            continue
        name = str(env.get("name") or "")
        reason = heuristics.judge(name, value)
        if reason:
            found.append(f"env {name} ({reason}; {masked(value)})")
    if found:
        return fail(f"{container.role} has a hard-coded credential: {listed(found)}")
    return ok("no credential-like literal env values")


SEC_017 = CheckDefinition(
    id="SEC-017",
    pillar=Pillar.SECURITY,
    name="Secret exposed via env",
    description=(
        "Environment variables leak: they are inherited by every child process, printed by "
        "crash handlers and debug endpoints, visible in /proc/<pid>/environ, and never "
        "updated when the Secret is rotated. A mounted Secret file has none of these problems."
    ),
    severity=Severity.LOW,
    scope="W",
    remediation=(
        "Mount the Secret as a volume (readOnly, with defaultMode 0400) and have the "
        "application read the file; for tools that only take environment variables, read "
        "the file into the variable in the container's entrypoint."
    ),
    kinds=WORKLOAD_KINDS,
    notes=(
        "The same control as kube-linter's read-secret-from-env-var (CIS 5.4.1), applied to "
        "init and ephemeral containers too.",
    ),
)


@per_container(SEC_017)
def secret_in_env(workload: Workload, container: Container, ctx: Context[NoParams]) -> Verdict:
    exposed = []
    for env in as_mappings(container.spec.get("env")):
        ref = dig(env, "valueFrom", "secretKeyRef")
        if ref:
            exposed.append(
                f"env {env.get('name')} from Secret {ref.get('name')} key {ref.get('key')} "
                "(valueFrom.secretKeyRef)"
            )
    for source in as_mappings(container.spec.get("envFrom")):
        ref = dig(source, "secretRef")
        if ref:
            prefix = f" with prefix {source['prefix']}" if source.get("prefix") else ""
            exposed.append(f"every key of Secret {ref.get('name')}{prefix} (envFrom.secretRef)")
    if exposed:
        return fail(f"{container.role} reads Secrets through its environment: {'; '.join(exposed)}")
    return ok("reads no Secret through its environment")


SEC_018 = CheckDefinition(
    id="SEC-018",
    pillar=Pillar.SECURITY,
    name="Sensitive data in ConfigMap",
    description=(
        "ConfigMaps are not meant for secrets: they are readable by anyone with view access, "
        "not encrypted at rest by Secret encryption providers, and printed by kubectl "
        "describe."
    ),
    severity=Severity.HIGH,
    scope="W",
    remediation=(
        "Move the credential into a Secret (or an external secret store), rotate it, and "
        "have the application read it from a mounted Secret file or an environment variable "
        "filled from the Secret; keep the rest of the configuration in the ConfigMap."
    ),
    kinds=("ConfigMap",),
    params=CredentialParams,
    notes=(
        "Like kubescape's C-0012 for ConfigMaps, keys and values are matched; we also read "
        "key = value, key: value and JSON lines inside configuration files held in a key, "
        "and decode binaryData to look for private keys.",
        HEURISTICS_NOTE,
    ),
)


def _configmap_findings(configmap: KubeObject, heuristics: Heuristics) -> list[str]:
    found = []
    for key, raw in as_mapping(configmap.get("data")).items():
        if not isinstance(raw, str):
            continue
        name = str(key)
        inner = [
            f"data key {name}, line {line}, {inner_key} ({reason}; {masked(value)})"
            for line, inner_key, value in assignments(raw)
            if (reason := heuristics.judge(inner_key, value))
        ]
        if inner:
            found.extend(inner)
            continue
        by_content = config_file(name)
        reason = heuristics.format_reason(raw) if by_content else heuristics.judge(name, raw)
        if reason:
            found.append(f"data key {name} ({reason}; {masked(raw)})")
    for key, raw in as_mapping(configmap.get("binaryData")).items():
        name = str(key)
        text = decoded(raw) if isinstance(raw, str) else ""
        reason = heuristics.format_reason(text) or heuristics.name_reason(name)
        if reason:
            found.append(f"binaryData key {name} ({reason})")
    return found


@per_object(SEC_018, kinds=("ConfigMap",), include_owned=True)
def sensitive_configmap(configmap: KubeObject, ctx: Context[Any]) -> Verdict:
    found = _configmap_findings(configmap, Heuristics.of(ctx.params))
    if found:
        return fail(f"holds credential-like data: {listed(found)}")
    return ok("no credential-like keys or values")


CHECKS = (hard_coded_env, secret_in_env, sensitive_configmap)
