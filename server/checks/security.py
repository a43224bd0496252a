"""Security pillar checks (SEC-*): definitions and their functions over the inventory.

Collected into the built-in registry by :mod:`assay.server.checks`.
"""

from __future__ import annotations

from collections.abc import Iterator

from assay.server.checks.kit.definition import Check, CheckDefinition, Finding, check
from assay.server.checks.kit.podspec import effective_security, is_windows
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import WORKLOAD_KINDS, Inventory
from assay.server.inventory.raw import int_or_none

LOW_ID_THRESHOLD = 10000
"""UIDs/GIDs below this may collide with users that exist on the node."""

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
)


def privileged(inventory: Inventory) -> Iterator[Finding]:
    for workload in inventory.workloads():
        for container in workload.containers():
            reasons = []
            if container.security_context.get("privileged") is True:
                reasons.append("securityContext.privileged is true")
            if effective_security(workload.pod_spec, container, "windowsOptions", "hostProcess"):
                reasons.append("windowsOptions.hostProcess is true")
            if reasons:
                yield Finding.failing(
                    workload.ref,
                    f"{container.role} is privileged: " + " and ".join(reasons),
                    container.name,
                )
            else:
                yield Finding.passing(workload.ref, "not privileged", container.name)


def run_as_root(inventory: Inventory) -> Iterator[Finding]:
    for workload in inventory.workloads():
        windows = is_windows(workload.pod_spec)
        for container in workload.containers():
            if windows:
                yield Finding.skipped(
                    workload.ref, "Windows pod: Linux user settings do not apply", container.name
                )
                continue
            non_root = effective_security(workload.pod_spec, container, "runAsNonRoot")
            uid = int_or_none(effective_security(workload.pod_spec, container, "runAsUser"))
            gid = int_or_none(effective_security(workload.pod_spec, container, "runAsGroup"))
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
                yield Finding.failing(workload.ref, "; ".join(problems), container.name)
                continue
            low = [
                f"{label} {value}"
                for label, value in (("UID", uid), ("GID", gid))
                if value is not None and value < LOW_ID_THRESHOLD
            ]
            if low:
                yield Finding.warning(
                    workload.ref,
                    f"runs as non-root, but {' and '.join(low)} is below {LOW_ID_THRESHOLD} "
                    "and may match a user on the node",
                    container.name,
                )
            else:
                yield Finding.passing(workload.ref, "must run as non-root", container.name)


CHECKS: tuple[Check, ...] = (
    check(SEC_001)(privileged),
    check(SEC_003)(run_as_root),
)
