"""Security pillar (SEC-*): the checks, by theme.

pod         privilege, privilege escalation, user identity, root filesystem (SEC-001..004)
kernel      capabilities, seccomp/LSM profiles, /proc and sysctls (SEC-005..008)
host        host namespaces, host paths, runtime sockets, host ports (SEC-009..013)
"""

from assay.server.checks.kit import Check
from assay.server.checks.security import host, kernel, pod

CHECKS: tuple[Check, ...] = tuple(
    sorted(
        (
            *pod.CHECKS,
            *kernel.CHECKS,
            *host.CHECKS,
        ),
        key=lambda c: c.id,
    )
)
