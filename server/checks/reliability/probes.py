"""Reliability checks on container probes: readiness (REL-001), liveness (REL-002) and
probes that cannot work as meant (REL-003). Listed in the pillar's ``CHECKS``.

Init containers run to completion and cannot have probes. Sidecar containers (init
containers with ``restartPolicy: Always``) may have them: REL-003 checks the probes they
declare, but REL-001 and REL-002 do not require any (see the REL-002 notes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from assay.server.checks.kit import (
    LONG_RUNNING,
    REGULAR_CONTAINERS,
    RUNNING_CONTAINERS,
    CheckDefinition,
    Containers,
    Context,
    NoParams,
    Verdict,
    fail,
    ok,
    per_container,
    problems_or_ok,
)
from assay.server.checks.kit.text import shown
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import WORKLOAD_KINDS, Container, Workload
from assay.server.inventory.raw import KubeObject, as_mapping, as_mappings, int_or_none

REL_001 = CheckDefinition(
    id="REL-001",
    pillar=Pillar.RELIABILITY,
    name="Readiness probe missing",
    description=(
        "Without a readiness probe a long-running container receives traffic as soon as it "
        "starts and keeps receiving it while it is unable to serve."
    ),
    severity=Severity.HIGH,
    scope="W",
    remediation=(
        "Add a readinessProbe (httpGet on a health endpoint, tcpSocket or grpc) that succeeds "
        "only when the container can serve requests; keep it cheap, and distinct from the "
        "livenessProbe so a slow dependency takes the pod out of rotation without restarting it."
    ),
    kinds=WORKLOAD_KINDS,
    applies_to=LONG_RUNNING,
    notes=(
        "Stricter than kube-score, which asks for a readiness probe only on pods a Service "
        "selects: a pod outside any Service today is often put behind one tomorrow.",
    ),
)


@per_container(REL_001, containers=REGULAR_CONTAINERS)
def readiness_probe(workload: Workload, container: Container, ctx: Context[NoParams]) -> Verdict:
    if container.spec.get("readinessProbe"):
        return ok("has a readinessProbe")
    return fail(f"{container.role} has no readinessProbe")


REL_002 = CheckDefinition(
    id="REL-002",
    pillar=Pillar.RELIABILITY,
    name="Liveness probe missing",
    description=(
        "Without a liveness probe a container that hangs (a deadlock, an exhausted pool, a "
        "stuck event loop) keeps running: the kubelet only restarts containers that exit."
    ),
    severity=Severity.MEDIUM,
    scope="W",
    remediation=(
        "Add a livenessProbe that checks only that the process itself can make progress (a "
        "cheap /livez endpoint, a tcpSocket or grpc check), never its dependencies, with a "
        "failureThreshold x periodSeconds longer than the readinessProbe's so a struggling pod "
        "leaves rotation before it is restarted; add a startupProbe if it starts slowly."
    ),
    kinds=WORKLOAD_KINDS,
    applies_to=LONG_RUNNING,
    notes=(
        "Stricter than kube-score, which never requires a liveness probe (it only flags one "
        "identical to the readiness probe); in line with Polaris and kube-linter, which ask for "
        "one in every regular container.",
        "Sidecar containers (init containers with restartPolicy: Always) are deliberately not "
        "required to have one: they are mostly injected by a mesh or an agent whose injector "
        "owns their probes, and REL-003 still checks the probes they declare. Init containers "
        "run to completion and cannot have probes.",
    ),
)


@per_container(REL_002, containers=REGULAR_CONTAINERS)
def liveness_probe(workload: Workload, container: Container, ctx: Context[NoParams]) -> Verdict:
    if container.spec.get("livenessProbe"):
        return ok("has a livenessProbe")
    return fail(f"{container.role} has no livenessProbe")


PROBES = ("startupProbe", "livenessProbe", "readinessProbe")
_PORT_HANDLERS = ("httpGet", "tcpSocket", "grpc")
_LOCAL_HOSTS = frozenset({"", "localhost", "127.0.0.1", "::1"})
# The API defaults of the probe fields the comparison reads.
_PERIOD, _FAILURES = 10, 3


def _has_probe(container: Container) -> bool:
    return RUNNING_CONTAINERS(container) and any(container.spec.get(p) for p in PROBES)


PROBED_CONTAINERS = Containers(
    "containers and sidecar containers that declare a probe (startup, liveness or readiness)",
    _has_probe,
)

REL_003 = CheckDefinition(
    id="REL-003",
    pillar=Pillar.RELIABILITY,
    name="Probe misconfiguration",
    description=(
        "A probe aimed at a port the container does not serve never succeeds (the pod never "
        "becomes ready, or is restarted forever), and a liveness probe that is the readiness "
        "probe restarts every pod at once when a shared dependency slows down."
    ),
    severity=Severity.MEDIUM,
    scope="W",
    remediation=(
        "Point each probe at a port the container declares in its own ports (by name, e.g. "
        "port: http, so the two cannot drift apart); give the livenessProbe its own cheap "
        "endpoint, or at least a failureThreshold x periodSeconds longer than the "
        "readinessProbe's, so a pod leaves rotation before the kubelet restarts it."
    ),
    kinds=WORKLOAD_KINDS,
    notes=(
        "Liveness counts as identical to readiness when both run the same action (same "
        "httpGet path, port, host, scheme and headers, same tcpSocket or grpc port, same exec "
        "command; a named port is resolved first) and the liveness probe gives up no later "
        "than the readiness probe (failureThreshold x periodSeconds). Softer than kube-score, "
        "which flags the same action whatever the thresholds: the Kubernetes documentation "
        "recommends reusing the readiness endpoint with a higher failureThreshold.",
        "Stricter than kube-linter's probe-port checks, which only look at named ports: a "
        "numeric probe port must be one the container declares when it declares any, and a "
        "port that belongs to another container of the pod fails (the probe would check the "
        "wrong process). A container that declares no ports is not judged on numeric ports. "
        "Probes with an httpGet or tcpSocket host other than the pod are not port-checked.",
    ),
)


@per_container(REL_003, containers=PROBED_CONTAINERS)
def probe_misconfiguration(
    workload: Workload, container: Container, ctx: Context[NoParams]
) -> Verdict:
    own = _declared_ports(container.spec)
    problems = []
    for field in PROBES:
        probe = as_mapping(container.spec.get(field))
        if probe:
            problem = _port_problem(field, probe, own, workload, container)
            if problem:
                problems.append(problem)
    same = _same_as_readiness(container.spec, own)
    if same:
        problems.append(same)
    return problems_or_ok(problems, "probes agree with the container's ports and with each other")


def _declared_ports(spec: KubeObject) -> dict[str, int]:
    """The container's ports by name, and by their number as text (``"8080"``)."""
    ports: dict[str, int] = {}
    for port in as_mappings(spec.get("ports")):
        number = int_or_none(port.get("containerPort"))
        if number is None:
            continue
        ports[str(number)] = number
        name = port.get("name")
        if isinstance(name, str) and name:
            ports[name] = number
    return ports


def _port_of(probe: KubeObject) -> tuple[str, object, str] | None:
    """(handler, port, host) of a network probe; ``None`` for exec probes."""
    for handler in _PORT_HANDLERS:
        action = probe.get(handler)
        if isinstance(action, Mapping):
            return handler, action.get("port"), str(action.get("host") or "")
    return None


def _port_problem(
    field: str,
    probe: KubeObject,
    own: dict[str, int],
    workload: Workload,
    container: Container,
) -> str | None:
    target = _port_of(probe)
    if target is None:
        return None
    handler, port, host = target
    where = f"{field}.{handler}.port"
    if host not in _LOCAL_HOSTS:
        return None  # probes another host: nothing the pod spec can confirm
    number = int_or_none(port)
    if number is None:
        if not isinstance(port, str) or not port:
            return f"{where} is not set"
        if port in own:
            return None
        owner = _owner_of_port(workload, container, port)
        where_else = f" (container {owner} declares it)" if owner else ""
        return f"{where} {shown(port)} names no port of this container{where_else}"
    if not 0 < number < 65536:
        return f"{where} {number} is not a valid port number"
    if str(number) in own:
        return None
    owner = _owner_of_port(workload, container, str(number))
    if owner:
        return (
            f"{where} {number} is a port of container {owner}, not of this one: the probe "
            "checks the wrong process"
        )
    if own:
        declared = ", ".join(str(n) for n in sorted(set(own.values())))
        return f"{where} {number} is not among the container's ports ({declared})"
    return None


def _owner_of_port(workload: Workload, container: Container, port: str) -> str | None:
    for other in workload.containers():
        sibling = other.name != container.name and RUNNING_CONTAINERS(other)
        if sibling and port in _declared_ports(other.spec):
            return other.name
    return None


def _same_as_readiness(spec: KubeObject, ports: dict[str, int]) -> str | None:
    liveness = as_mapping(spec.get("livenessProbe"))
    readiness = as_mapping(spec.get("readinessProbe"))
    if not liveness or not readiness:
        return None
    action = _action(liveness, ports)
    if action is None or action != _action(readiness, ports):
        return None
    live_window, ready_window = _window(liveness), _window(readiness)
    if live_window > ready_window:
        return None
    return (
        f"livenessProbe repeats the readinessProbe ({action.describe()}) and gives up after "
        f"{live_window}s, no later than readiness ({ready_window}s): a slow dependency "
        "restarts the pods instead of taking them out of rotation"
    )


def _window(probe: KubeObject) -> int:
    """Seconds of consecutive failures before the probe acts (failureThreshold x period)."""
    period = int_or_none(probe.get("periodSeconds")) or _PERIOD
    failures = int_or_none(probe.get("failureThreshold")) or _FAILURES
    return period * failures


@dataclass(frozen=True, slots=True)
class _Action:
    """What a probe does, normalised: defaults filled in, named ports resolved."""

    handler: str
    port: object = None
    details: tuple[object, ...] = ()

    def describe(self) -> str:
        if self.handler == "exec":
            return f"exec {shown(' '.join(map(str, self.details)), 40)}"
        port = self.port if isinstance(self.port, int) else shown(self.port, 40)
        if self.handler == "httpGet":
            return f"httpGet {shown(self.details[0], 40)} on port {port}"
        return f"{self.handler} on port {port}"


def _action(probe: KubeObject, ports: dict[str, int]) -> _Action | None:
    def port(value: object) -> object:
        return ports.get(str(value), int_or_none(value) or value)

    http = probe.get("httpGet")
    if isinstance(http, Mapping):
        headers = sorted(
            (str(h.get("name")), str(h.get("value"))) for h in as_mappings(http.get("httpHeaders"))
        )
        details = (
            str(http.get("path") or "/"),
            str(http.get("host") or ""),
            str(http.get("scheme") or "HTTP").upper(),
            tuple(headers),
        )
        return _Action("httpGet", port(http.get("port")), details)
    for handler in ("tcpSocket", "grpc"):
        action = probe.get(handler)
        if isinstance(action, Mapping):
            return _Action(handler, port(action.get("port")), (str(action.get("service") or ""),))
    command = as_mapping(probe.get("exec")).get("command")
    if isinstance(command, list):
        return _Action("exec", details=tuple(str(part) for part in command))
    return None


CHECKS = (readiness_probe, liveness_probe, probe_misconfiguration)
