"""Security checks on what a container may ask of the kernel: Linux capabilities, syscall
filters and mandatory access control, /proc masking and sysctls (SEC-005..SEC-008).

Capabilities are compared without their ``CAP_`` prefix and case-insensitively, as the
container runtimes read them; settings that exist at pod and container level are read
through :func:`~assay.server.checks.kit.podspec.effective_security` (the container wins).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
    per_workload,
    problems_or_ok,
    warn,
)
from assay.server.checks.kit.podspec import effective_security
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import WORKLOAD_KINDS, Container, Workload
from assay.server.inventory.raw import as_mappings, dig

ALL = "ALL"


def capability(name: object) -> str:
    """A capability as the runtimes compare it: upper case, without ``CAP_``."""
    text = str(name).strip().upper()
    return text.removeprefix("CAP_")


def capabilities(container: Container, field: str) -> dict[str, str]:
    """The container's ``capabilities.<field>`` list: normalised name -> name as written."""
    values = dig(container.security_context, "capabilities").get(field)
    if not isinstance(values, list):
        return {}
    return {capability(v): str(v) for v in values if isinstance(v, str) and v.strip()}


@dataclass(frozen=True)
class DangerousCapabilityParams:
    capabilities: frozenset[str] = param(
        frozenset({ALL, "SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYS_MODULE", "BPF"}),
        "capabilities whose addition fails the check, with or without the CAP_ prefix, in any "
        "case; the default is the catalogue's ALL, SYS_ADMIN and NET_ADMIN plus SYS_PTRACE, "
        "SYS_MODULE and BPF",
    )


SEC_005 = CheckDefinition(
    id="SEC-005",
    pillar=Pillar.SECURITY,
    name="Dangerous capabilities added",
    description=(
        "Some capabilities are root in disguise: SYS_ADMIN mounts filesystems and escapes "
        "namespaces, NET_ADMIN rewrites the pod's (or host's) network, SYS_PTRACE reads other "
        "processes' memory, SYS_MODULE and BPF load code into the kernel."
    ),
    severity=Severity.CRITICAL,
    scope="W",
    remediation=(
        "Remove the capability from securityContext.capabilities.add. If the process needs "
        "one privileged operation, find the narrower capability that grants it (for example "
        "NET_BIND_SERVICE to bind ports below 1024) or move the operation to a node agent."
    ),
    kinds=WORKLOAD_KINDS,
    applies_to=LINUX_PODS,
    params=DangerousCapabilityParams,
    notes=(
        "Polaris's dangerousCapabilities fails on ALL, SYS_ADMIN and NET_ADMIN; our default "
        "list is deliberately longer (SYS_PTRACE, SYS_MODULE, BPF), and DAC_READ_SEARCH or "
        "SYS_RAWIO can be added through the parameter.",
        "Names are compared the way containerd and CRI-O read them: CAP_SYS_ADMIN and "
        "sys_admin both mean SYS_ADMIN.",
    ),
)


@per_container(SEC_005)
def dangerous_capabilities(
    workload: Workload, container: Container, ctx: Context[DangerousCapabilityParams]
) -> Verdict:
    added = capabilities(container, "add")
    forbidden = {capability(c) for c in ctx.params.capabilities}
    bad = [written for name, written in sorted(added.items()) if name in forbidden]
    if bad:
        return fail(f"{container.role}'s capabilities.add contains {', '.join(bad)}")
    if added:
        return ok(f"adds only {', '.join(sorted(added.values()))}")
    return ok("adds no capabilities")


@dataclass(frozen=True)
class DropParams:
    require_all: bool = param(
        True,
        "fail unless capabilities.drop contains ALL; when false, dropping every capability "
        "in minimum is enough",
    )
    minimum: frozenset[str] = param(
        frozenset({"NET_RAW"}),
        "capabilities that must be dropped (and not added back) in any case; NET_RAW lets a "
        "process forge packets and spoof ARP or DNS replies to its neighbours",
    )


SEC_006 = CheckDefinition(
    id="SEC-006",
    pillar=Pillar.SECURITY,
    name="Capabilities not dropped",
    description=(
        "Container runtimes grant about fourteen capabilities by default (NET_RAW, CHOWN, "
        "SETUID, DAC_OVERRIDE, ...). Few applications need any of them; each one left is a "
        "step an attacker does not have to take."
    ),
    severity=Severity.MEDIUM,
    scope="W",
    remediation=(
        "Set securityContext.capabilities.drop: [ALL] and add back only what the process "
        "needs (often nothing, sometimes NET_BIND_SERVICE). At the very least drop NET_RAW."
    ),
    kinds=WORKLOAD_KINDS,
    applies_to=LINUX_PODS,
    params=DropParams,
    notes=(
        "Stricter than kube-linter's drop-net-raw-capability (NET_RAW only) and Polaris's "
        "insecureCapabilities (ALL or a list of fourteen, as a warning): ALL is required by "
        "default, as in the restricted Pod Security Standard; require_all: false relaxes it "
        "to the minimum list.",
        "A capability in capabilities.add counts as kept even if ALL is dropped: the "
        "runtimes apply the additions after dropping ALL.",
    ),
)


@per_container(SEC_006)
def capabilities_not_dropped(
    workload: Workload, container: Container, ctx: Context[DropParams]
) -> Verdict:
    dropped = capabilities(container, "drop")
    added = capabilities(container, "add")
    minimum = sorted(capability(c) for c in ctx.params.minimum)
    added_back = [c for c in minimum if c in added or ALL in added]
    not_dropped = [c for c in minimum if c not in dropped and ALL not in dropped]
    problems = []
    if ctx.params.require_all and ALL not in dropped:
        problems.append(f"{container.role}'s capabilities.drop lacks ALL")
    if not_dropped:
        problems.append(f"{', '.join(not_dropped)} not dropped")
    if added_back:
        problems.append(f"{container.role}'s capabilities.add adds {', '.join(added_back)} back")
    if ALL in dropped:
        return problems_or_ok(problems, "drops ALL")
    return problems_or_ok(problems, f"drops {', '.join(minimum) or 'what the policy requires'}")


CONFINING = frozenset({"RuntimeDefault", "Localhost"})
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
SECCOMP_ANNOTATIONS = ("seccomp.security.alpha.kubernetes.io/pod", "container.seccomp.security")


def _apparmor(workload: Workload, container: Container) -> str | None:
    """The AppArmor profile type from the field, else from the (deprecated) annotation."""
    value = effective_security(workload.pod_spec, container, "appArmorProfile", "type")
    if value is not None:
        return str(value)
    annotation = workload.template_annotations.get(APPARMOR_ANNOTATION + container.name)
    if annotation is None:
        return None
    if annotation == "runtime/default":
        return "RuntimeDefault"
    if annotation.startswith("localhost/"):
        return "Localhost"
    return "Unconfined" if annotation == "unconfined" else annotation


def _selinux(workload: Workload, container: Container) -> bool:
    options = effective_security(workload.pod_spec, container, "seLinuxOptions")
    if not isinstance(options, Mapping):
        return False
    return any(options.get(k) for k in ("user", "role", "type", "level"))


SEC_007 = CheckDefinition(
    id="SEC-007",
    pillar=Pillar.SECURITY,
    name="No seccomp / LSM profile",
    description=(
        "Without a seccomp profile every system call of the kernel is reachable from the "
        "container, including the rarely used ones most kernel exploits go through; AppArmor "
        "or SELinux confinement limits the damage in the same spirit."
    ),
    severity=Severity.MEDIUM,
    scope="W",
    remediation=(
        "Set securityContext.seccompProfile.type: RuntimeDefault at pod level (containers "
        "inherit it), or Localhost with a profile shipped to the nodes; on AppArmor or "
        "SELinux nodes an appArmorProfile or seLinuxOptions also confines the container."
    ),
    kinds=WORKLOAD_KINDS,
    applies_to=LINUX_PODS,
    notes=(
        "Stricter than kubescape's Linux hardening control (C-0055), which also accepts "
        "dropped capabilities (SEC-006 judges those); softer than the restricted Pod Security "
        "Standard, which wants seccomp specifically, where AppArmor or SELinux also pass here.",
        "The kubelet's seccompDefault setting cannot be seen from the API, so a pod that "
        "relies on it fails; the seccomp.security.alpha.kubernetes.io annotations have had no "
        "effect since Kubernetes 1.27 and do not count, the AppArmor annotation still does.",
    ),
)


@per_container(SEC_007)
def no_confinement(workload: Workload, container: Container, ctx: Context[NoParams]) -> Verdict:
    seccomp = effective_security(workload.pod_spec, container, "seccompProfile", "type")
    apparmor = _apparmor(workload, container)
    confined = []
    if seccomp in CONFINING:
        confined.append(f"seccompProfile {seccomp}")
    if apparmor in CONFINING:
        confined.append(f"appArmorProfile {apparmor}")
    if _selinux(workload, container):
        confined.append("seLinuxOptions")
    unconfined = [
        f"{name} is Unconfined"
        for name, value in (("seccompProfile", seccomp), ("appArmorProfile", apparmor))
        if value == "Unconfined"
    ]
    if confined and unconfined:
        return warn(f"confined by {', '.join(confined)}, but {'; '.join(unconfined)}")
    if confined:
        return ok(f"confined by {', '.join(confined)}")
    reason = "; ".join(unconfined) or "no seccompProfile, appArmorProfile or seLinuxOptions"
    annotations = workload.template_annotations
    if any(key.startswith(SECCOMP_ANNOTATIONS) for key in annotations):
        reason += " (the seccomp annotations are ignored since Kubernetes 1.27)"
    return fail(f"{container.role} runs without a syscall filter or LSM profile: {reason}")


SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
        "net.ipv4.tcp_rmem",
        "net.ipv4.tcp_wmem",
    }
)
"""The kubelet's safe set as of Kubernetes 1.32."""


def sysctl_name(name: str) -> str:
    """The dotted form of a sysctl name; Kubernetes also accepts ``/`` as the separator,
    in which case dots inside a component (``eth0.100``) are swapped the other way."""
    if "/" not in name:
        return name
    first = min((i for i in (name.find("."), name.find("/")) if i >= 0), default=-1)
    if first >= 0 and name[first] == "/":
        return name.translate(str.maketrans("./", "/."))
    return name


def _allowed(name: str, patterns: Iterable[str]) -> bool:
    for pattern in patterns:
        if pattern.endswith("*") and name.startswith(pattern[:-1]):
            return True
        if name == pattern:
            return True
    return False


@dataclass(frozen=True)
class KernelParams:
    safe_sysctls: frozenset[str] = param(
        SAFE_SYSCTLS,
        "sysctls a pod may set (a trailing * matches a prefix); the default is the kubelet's "
        "safe set of Kubernetes 1.32; add unsafe ones only if your nodes allow them with "
        "--allowed-unsafe-sysctls and you accept that they are not isolated per pod",
    )


SEC_008 = CheckDefinition(
    id="SEC-008",
    pillar=Pillar.SECURITY,
    name="Unsafe kernel surface",
    description=(
        "procMount: Unmasked exposes the parts of /proc the runtime normally hides (kernel "
        "memory, sysrq triggers), and unsafe sysctls change kernel settings that are not "
        "isolated per pod, so one pod can starve or destabilise its node."
    ),
    severity=Severity.HIGH,
    scope="W",
    remediation=(
        "Remove securityContext.procMount (or set it to Default) on each container, and "
        "remove the sysctls outside the safe set from spec.securityContext.sysctls; tune "
        "node-level settings on the nodes themselves (a tuning DaemonSet or the node image)."
    ),
    kinds=WORKLOAD_KINDS,
    applies_to=LINUX_PODS,
    params=KernelParams,
    notes=(
        "kube-linter's unsafe-sysctls flags name prefixes (kernel.msg, net., ...); we use the "
        "kubelet's own safe list instead, so safe net.ipv4 settings pass, and also fail net.* "
        "sysctls on hostNetwork pods, where they would change the node's network stack.",
    ),
)


@per_workload(SEC_008)
def unsafe_kernel_surface(workload: Workload, ctx: Context[KernelParams]) -> Verdict:
    spec = workload.pod_spec
    problems = [
        f"{c.role} {c.name} sets procMount: Unmasked"
        for c in workload.containers()
        if c.security_context.get("procMount") == "Unmasked"
    ]
    host_network = spec.get("hostNetwork") is True
    names = [
        str(s.get("name") or "") for s in as_mappings(dig(spec, "securityContext").get("sysctls"))
    ]
    for written in names:
        name = sysctl_name(written)
        if host_network and name.startswith("net."):
            problems.append(f"sysctl {written} on a hostNetwork pod would change the node")
        elif not _allowed(name, ctx.params.safe_sysctls):
            problems.append(f"sysctl {written} is not in the safe set")
    if names:
        return problems_or_ok(problems, f"sets only safe sysctls ({', '.join(names)})")
    return problems_or_ok(problems, "no unmasked /proc and no sysctls")


CHECKS = (
    dangerous_capabilities,
    capabilities_not_dropped,
    no_confinement,
    unsafe_kernel_surface,
)
