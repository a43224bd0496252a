"""Security pillar (SEC-*): the checks, by theme.

pod         privilege, privilege escalation, user identity, root filesystem (SEC-001..004)
kernel      capabilities, seccomp/LSM profiles, /proc and sysctls (SEC-005..008)
"""

from assay.server.checks.kit import Check
from assay.server.checks.security import kernel, pod

CHECKS: tuple[Check, ...] = tuple(
    sorted(
        (
            *pod.CHECKS,
            *kernel.CHECKS,
        ),
        key=lambda c: c.id,
    )
)
