"""Security checks on what a pod shares with its node: host namespaces, host paths, the
container runtime's socket and host ports (SEC-009..SEC-013).

Host paths are compared as normalised absolute POSIX paths, ``/var/run`` being the same
directory as ``/run`` (a symbolic link on every current distribution); a mount of a
directory exposes everything below it, so a parent of a sensitive path counts as sensitive.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass

from assay.server.checks.kit import (
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
)
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import WORKLOAD_KINDS, Container, Workload
from assay.server.inventory.raw import as_mappings, dig, int_or_none

SEC_009 = CheckDefinition(
    id="SEC-009",
    pillar=Pillar.SECURITY,
    name="Host network",
    description=(
        "A pod on the host network sees every interface of the node, can bind any of its "
        "ports, reach services listening on localhost (the kubelet's, a metadata proxy) and "
        "escapes every NetworkPolicy."
    ),
    severity=Severity.HIGH,
    scope="W",
    remediation=(
        "Remove spec.hostNetwork (or set it to false) and expose the pod through a Service; "
        "keep the host network for node agents (CNI, kube-proxy) in a dedicated namespace, "
        "exempted with a reason."
    ),
    kinds=WORKLOAD_KINDS,
    notes=("The same control as Polaris hostNetworkSet and kube-linter host-network.",),
)


@per_workload(SEC_009)
def host_network(workload: Workload, ctx: Context[NoParams]) -> Verdict:
    if workload.pod_spec.get("hostNetwork") is True:
        return fail("hostNetwork is true")
    return ok("uses its own network namespace")


SEC_010 = CheckDefinition(
    id="SEC-010",
    pillar=Pillar.SECURITY,
    name="Host PID / IPC",
    description=(
        "With the host's PID namespace a container sees, signals and (with ptrace) inspects "
        "every process on the node; with the host's IPC namespace it reads and writes the "
        "node's shared memory."
    ),
    severity=Severity.HIGH,
    scope="W",
    remediation=(
        "Remove spec.hostPID and spec.hostIPC (or set them to false). To share processes "
        "between the pod's own containers use shareProcessNamespace: true instead."
    ),
    kinds=WORKLOAD_KINDS,
    notes=("One result for both namespaces, where Polaris and kube-linter have one check each.",),
)


@per_workload(SEC_010)
def host_pid_ipc(workload: Workload, ctx: Context[NoParams]) -> Verdict:
    shared = [
        f"{field} is true"
        for field in ("hostPID", "hostIPC")
        if workload.pod_spec.get(field) is True
    ]
    return problems_or_ok(shared, "uses its own PID and IPC namespaces")


@dataclass(frozen=True, slots=True)
class HostPath:
    """A ``hostPath`` volume: its name, the path as written and normalised."""

    volume: str
    written: str
    path: str


def normalise(path: str) -> str:
    """An absolute POSIX path without ``.``, ``..`` or repeated slashes; ``/var/run`` is
    read as ``/run``. Paths that are not absolute (Windows ``C:\\...``) are left as they are."""
    if not path.startswith("/"):
        return path
    clean = posixpath.normpath("/" + path.lstrip("/"))
    if clean == "/var/run" or clean.startswith("/var/run/"):
        clean = clean.removeprefix("/var")
    return clean


def contains(parent: str, child: str) -> bool:
    """``parent`` is ``child`` or one of its ancestors."""
    return parent == child or child.startswith(parent.rstrip("/") + "/")


def host_paths(workload: Workload) -> Iterator[HostPath]:
    for volume in as_mappings(workload.pod_spec.get("volumes")):
        host = dig(volume, "hostPath")
        if "hostPath" in volume and isinstance(host.get("path"), str):
            written = host["path"]
            yield HostPath(str(volume.get("name") or ""), written, normalise(written))


def writers(workload: Workload, volume: str) -> list[Container]:
    """Containers that mount ``volume`` without ``readOnly: true``."""
    return [
        c
        for c in workload.containers()
        for mount in as_mappings(c.spec.get("volumeMounts"))
        if mount.get("name") == volume and mount.get("readOnly") is not True
    ]


@dataclass(frozen=True)
class HostPathParams:
    sensitive_paths: frozenset[str] = param(
        frozenset({"/", "/etc", "/proc", "/sys", "/var/lib/kubelet", "/root"}),
        "host paths whose mount is critical: the path itself, any path below it and any "
        "directory above it (/ only when mounted itself)",
    )


SEC_011 = CheckDefinition(
    id="SEC-011",
    pillar=Pillar.SECURITY,
    name="hostPath volume",
    description=(
        "A hostPath volume ties the pod to one node's filesystem and bypasses storage "
        "isolation; writable, or on a sensitive path, it hands the node's configuration, "
        "credentials or kernel interfaces to the container."
    ),
    severity=Severity.HIGH,
    scope="W",
    remediation=(
        "Replace the hostPath volume with a PersistentVolumeClaim, emptyDir, ConfigMap or "
        "projected volume. If a node agent really needs it, mount the narrowest path with "
        "readOnly: true on every volumeMount and set hostPath.type to what you expect."
    ),
    kinds=WORKLOAD_KINDS,
    params=HostPathParams,
    notes=(
        "Stricter than kube-linter's sensitive-host-mounts, which matches exact directories: "
        "a parent of a sensitive path (/var for /var/lib/kubelet) or a path below one "
        "(/etc/kubernetes) is critical too. Every hostPath fails (high), as kubescape's "
        "C-0048 does; writable or sensitive ones are critical, like its C-0045.",
    ),
)


@per_workload(SEC_011)
def host_path_volumes(workload: Workload, ctx: Context[HostPathParams]) -> Verdict:
    sensitive = sorted(normalise(p) for p in ctx.params.sensitive_paths)
    problems, critical = [], False
    for host in host_paths(workload):
        reasons = []
        hits = [
            s for s in sensitive if contains(host.path, s) or (s != "/" and contains(s, host.path))
        ]
        if hits:
            reasons.append(f"{', '.join(hits)} is sensitive")
        written_by = writers(workload, host.volume)
        if written_by:
            names = ", ".join(f"{c.role} {c.name}" for c in written_by)
            reasons.append(f"mounted writable by {names}")
        critical = critical or bool(reasons)
        mounted = any(
            mount.get("name") == host.volume
            for c in workload.containers()
            for mount in as_mappings(c.spec.get("volumeMounts"))
        )
        detail = "mounted read-only" if mounted else "not mounted by any container"
        if reasons:
            detail = "; ".join(reasons)
        problems.append(f"hostPath volume {host.volume} ({host.written}): {detail}")
    if not problems:
        return ok("no hostPath volumes")
    return fail("; ".join(problems), severity=Severity.CRITICAL if critical else None)


@dataclass(frozen=True)
class SocketParams:
    socket_paths: frozenset[str] = param(
        frozenset(
            {
                "/run/docker.sock",
                "/run/containerd/containerd.sock",
                "/run/crio/crio.sock",
                "/run/cri-dockerd.sock",
                "/run/podman/podman.sock",
                "/run/k3s/containerd/containerd.sock",
                "/var/snap/microk8s/common/run/containerd.sock",
            }
        ),
        "where container runtimes put their API socket (/var/run/... is read as /run/...); "
        "a hostPath on one of them, or on a directory holding one, fails",
    )
    socket_names: frozenset[str] = param(
        frozenset({"docker.sock", "containerd.sock", "crio.sock", "cri-dockerd.sock"}),
        "file names of runtime sockets, failing wherever they are mounted from",
    )


SEC_012 = CheckDefinition(
    id="SEC-012",
    pillar=Pillar.SECURITY,
    name="Container-runtime socket mounted",
    description=(
        "The container runtime's socket is its API: whoever can write to it starts "
        "privileged containers, reads every other container's files and owns the node."
    ),
    severity=Severity.CRITICAL,
    scope="W",
    remediation=(
        "Remove the hostPath volume. Build images with an unprivileged builder (BuildKit "
        "rootless, kaniko, buildah) and read container metadata through the Kubernetes API "
        "or the kubelet's read-only endpoints instead of the runtime."
    ),
    kinds=WORKLOAD_KINDS,
    params=SocketParams,
    notes=(
        "kube-linter's docker-sock only matches paths ending in docker.sock; we also catch "
        "containerd, CRI-O and cri-dockerd sockets and directories that contain one "
        "(/var/run, /run/containerd), whether the container mounts them read-only or not.",
    ),
)


@per_workload(SEC_012)
def runtime_socket(workload: Workload, ctx: Context[SocketParams]) -> Verdict:
    sockets = sorted(normalise(p) for p in ctx.params.socket_paths)
    problems = []
    for host in host_paths(workload):
        if posixpath.basename(host.path) in ctx.params.socket_names:
            problems.append(f"hostPath volume {host.volume} mounts {host.written}")
            continue
        inside = [s for s in sockets if contains(host.path, s)]
        if inside:
            problems.append(
                f"hostPath volume {host.volume} ({host.written}) contains {', '.join(inside)}"
            )
    return problems_or_ok(problems, "mounts no container-runtime socket")


SEC_013 = CheckDefinition(
    id="SEC-013",
    pillar=Pillar.SECURITY,
    name="hostPort used",
    description=(
        "A hostPort opens the port on the node's address, outside Services and often outside "
        "NetworkPolicy enforcement, and limits scheduling to one such pod per node."
    ),
    severity=Severity.MEDIUM,
    scope="W",
    remediation=(
        "Remove ports[].hostPort and reach the pod through a Service (ClusterIP, or "
        "NodePort/LoadBalancer when it must be reachable from outside)."
    ),
    kinds=WORKLOAD_KINDS,
    notes=(
        "Same control as Polaris hostPortSet. On a live cluster the API server fills in "
        "hostPort for every port of a hostNetwork pod, so those fail here too (SEC-009 "
        "reports the host network itself).",
    ),
)


@per_container(SEC_013)
def host_ports(workload: Workload, container: Container, ctx: Context[NoParams]) -> Verdict:
    used = []
    for port in as_mappings(container.spec.get("ports")):
        host_port = int_or_none(port.get("hostPort"))
        if host_port:
            protocol = port.get("protocol") or "TCP"
            used.append(
                f"hostPort {host_port} (containerPort {port.get('containerPort')}/{protocol})"
            )
    if used:
        return fail(f"{container.role} uses {', '.join(used)}")
    return ok("no hostPort")


CHECKS = (host_network, host_pid_ipc, host_path_volumes, runtime_socket, host_ports)
