"""Security checks on the pod and container security context: privilege, privilege
escalation, user identity and the root filesystem (SEC-001..SEC-004).

Capabilities, syscall filters and kernel settings are in :mod:`.kernel`; host namespaces and
host mounts in :mod:`.host`.
"""

from __future__ import annotations

from dataclasses import dataclass

from assay.server.checks.kit import (
    LINUX_PODS,
    CheckDefinition,
    Context,
    NoParams,
    Verdict,
    fail,
    ok,
    param,
    per_container,
    warn,
)
from assay.server.checks.kit.podspec import effective_security
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import WORKLOAD_KINDS, Container, Workload
from assay.server.inventory.raw import int_or_none

SEC_001 = CheckDefinition(
    id="SEC-001",
    pillar=Pillar.SECURITY,
    name="Privileged container",
    description=(
        "A privileged container (or a Windows HostProcess container) has the host's full "
        "capabilities and device access: escaping it means owning the node."
    ),
    severity=Severity.CRITICAL,
    scope="W",
    remediation=(
        "Remove securityContext.privileged (or set it to false) and grant only the specific "
        "capabilities the process needs via securityContext.capabilities.add. For Windows, "
        "drop windowsOptions.hostProcess unless the workload is a node agent, and then isolate "
        "it in a dedicated, tightly controlled namespace."
    ),
    kinds=WORKLOAD_KINDS,
    notes=(
        "Polaris's runAsPrivileged and kube-linter's privileged-container look at "
        "securityContext.privileged; this row also fails Windows HostProcess containers, "
        "which the baseline Pod Security Standard forbids as well.",
    ),
)


@per_container(SEC_001)
def privileged(workload: Workload, container: Container, ctx: Context[NoParams]) -> Verdict:
    reasons = []
    if container.security_context.get("privileged") is True:
        reasons.append("securityContext.privileged is true")
    if effective_security(workload.pod_spec, container, "windowsOptions", "hostProcess"):
        reasons.append("windowsOptions.hostProcess is true")
    if reasons:
        return fail(f"{container.role} is privileged: " + " and ".join(reasons))
    return ok("not privileged")


SEC_002 = CheckDefinition(
    id="SEC-002",
    pillar=Pillar.SECURITY,
    name="Privilege escalation allowed",
    description=(
        "Unless allowPrivilegeEscalation is false, a process in the container can gain more "
        "privileges than its parent (setuid binaries, file capabilities): the kernel's "
        "no_new_privs flag is left unset."
    ),
    severity=Severity.HIGH,
    scope="W",
    remediation=(
        "Set securityContext.allowPrivilegeEscalation: false on every container, init and "
        "ephemeral container (it is a container-level field; the pod level has none). A "
        "container that needs privileged: true or CAP_SYS_ADMIN always escalates: remove that "
        "need first."
    ),
    kinds=WORKLOAD_KINDS,
    applies_to=LINUX_PODS,
    notes=(
        "The API defaults allowPrivilegeEscalation to true, so an unset field fails, as in "
        "Polaris and kube-linter. Unlike kube-linter we do not also fail on privileged or "
        "SYS_ADMIN here: SEC-001 and SEC-005 report those.",
    ),
)


@per_container(SEC_002)
def privilege_escalation(
    workload: Workload, container: Container, ctx: Context[NoParams]
) -> Verdict:
    value = container.security_context.get("allowPrivilegeEscalation")
    if value is False:
        return ok("allowPrivilegeEscalation is false")
    if value is True:
        return fail(f"{container.role} sets allowPrivilegeEscalation: true")
    return fail(f"{container.role} does not set allowPrivilegeEscalation: false (defaults to true)")


@dataclass(frozen=True)
class RootParams:
    low_id_threshold: int = param(
        10000,
        "UIDs and GIDs below this may belong to users on the node: such ids give a warning "
        "of severity info",
    )


SEC_003 = CheckDefinition(
    id="SEC-003",
    pillar=Pillar.SECURITY,
    name="May run as root",
    description=(
        "A container that is not forced to run as a non-root user runs as root whenever its "
        "image says so, which turns a container escape or a writable host mount into root "
        "on the node."
    ),
    severity=Severity.HIGH,
    scope="W",
    remediation=(
        "Set securityContext.runAsNonRoot: true at pod level (containers inherit it) and give "
        "a non-zero runAsUser/runAsGroup, preferably 10000 or above so the ids cannot collide "
        "with users on the node; build the image with a numeric non-root USER."
    ),
    kinds=WORKLOAD_KINDS,
    applies_to=LINUX_PODS,
    params=RootParams,
    notes=(
        "Like Polaris's runAsRootAllowed and kube-linter's run-as-non-root it requires "
        "runAsNonRoot: true (pod or container level, the container winning); it also fails "
        "runAsGroup: 0, and only warns (info) on ids below 10000, which kube-score's "
        "user-group-id check fails.",
    ),
)


@per_container(SEC_003)
def run_as_root(workload: Workload, container: Container, ctx: Context[RootParams]) -> Verdict:
    spec = workload.pod_spec
    non_root = effective_security(spec, container, "runAsNonRoot")
    uid = int_or_none(effective_security(spec, container, "runAsUser"))
    gid = int_or_none(effective_security(spec, container, "runAsGroup"))
    problems = []
    if non_root is not True:
        problems.append(
            "runAsNonRoot is false"
            if non_root is False
            else "runAsNonRoot is not set to true on the pod or the container"
        )
    if uid == 0:
        problems.append("runAsUser is 0 (root)")
    if gid == 0:
        problems.append("runAsGroup is 0 (root group)")
    if problems:
        return fail("; ".join(problems))
    threshold = ctx.params.low_id_threshold
    low = [
        f"{label} {value}"
        for label, value in (("UID", uid), ("GID", gid))
        if value is not None and value < threshold
    ]
    if low:
        return warn(
            f"runs as non-root, but {' and '.join(low)} is below {threshold} "
            "and may match a user on the node",
            severity=Severity.INFO,
        )
    return ok("must run as non-root")


SEC_004 = CheckDefinition(
    id="SEC-004",
    pillar=Pillar.SECURITY,
    name="Writable root filesystem",
    description=(
        "A writable root filesystem lets an intruder drop tools and binaries into the container "
        "and modify the application in place; a read-only one confines writes to the volumes "
        "the pod declares."
    ),
    severity=Severity.MEDIUM,
    scope="W",
    remediation=(
        "Set securityContext.readOnlyRootFilesystem: true on the container and mount an "
        "emptyDir (medium: Memory for small scratch space) at each path the process writes "
        "to, such as /tmp or a cache directory."
    ),
    kinds=WORKLOAD_KINDS,
    applies_to=LINUX_PODS,
    notes=(
        "The same control as Polaris notReadOnlyRootFilesystem, kube-score's "
        "readonlyrootfilesystem and kube-linter no-read-only-root-fs; we also judge init and "
        "ephemeral containers. Windows pods are left out: the field cannot be set there.",
    ),
)


@per_container(SEC_004)
def writable_root_filesystem(
    workload: Workload, container: Container, ctx: Context[NoParams]
) -> Verdict:
    value = container.security_context.get("readOnlyRootFilesystem")
    if value is True:
        return ok("readOnlyRootFilesystem is true")
    if value is False:
        return fail(f"{container.role} sets readOnlyRootFilesystem: false")
    return fail(f"{container.role} does not set readOnlyRootFilesystem: true")


CHECKS = (privileged, privilege_escalation, run_as_root, writable_root_filesystem)
