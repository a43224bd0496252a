"""Security pillar (SEC-*): the checks, by theme.

pod         privilege, privilege escalation, user identity, root filesystem (SEC-001..004)
kernel      capabilities, seccomp/LSM profiles, /proc and sysctls (SEC-005..008)
host        host namespaces, host paths, runtime sockets, host ports (SEC-009..013)
secrets     credentials in env and ConfigMaps, Secrets in env (SEC-016..018)

Helper: ``credentials`` (the secret heuristics shared by SEC-016 and SEC-018).
"""

from assay.server.checks.kit import Check
from assay.server.checks.security import host, kernel, pod, secrets

CHECKS: tuple[Check, ...] = tuple(
    sorted(
        (
            *pod.CHECKS,
            *kernel.CHECKS,
            *host.CHECKS,
            *secrets.CHECKS,
        ),
        key=lambda c: c.id,
    )
)
