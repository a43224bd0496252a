"""deploy/ rendered by `kubectl kustomize`, base and overlays: the settings the pod's server
runs with (read by the server's own loader), its security context, probes, grace period,
disruption budget, spread, network policy and namespaces."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import make_url

from assay.server.settings import Settings, options
from tests.unit.rendered import (
    DEPLOY,
    IMAGE,
    POD_NAME,
    ROOT,
    SERVER,
    SERVER_NAMESPACE,
    VARIANTS,
    Rendered,
    container_env,
    effective_settings,
    kustomize_version,
    rendered,
)

variants = pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.strip("."))
PRE_STOP_SLEEP = 5
# Between the grace the server gives runs and calls and the pod's deadline: the controller
# handing over its Lease and the database closing.
STOP_MARGIN = (5, 15)
# What the image sets besides the server's settings: the process's own environment.
PROCESS_ENV = {"PATH", "HOME", "TMPDIR", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"}
# Volume types the restricted Pod Security Standard allows.
RESTRICTED_VOLUMES = {"configMap", "emptyDir", "projected", "secret", "persistentVolumeClaim"}


def settings_of(variant: str, tmp_path: Path) -> Settings:
    return effective_settings(rendered(variant), tmp_path)


def ports(found: Rendered) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in found.container["ports"]}


def test_kubectl_renders_with_kustomize_5() -> None:
    assert kustomize_version() >= (5, 0), "overlays use components and labels (kustomize 5)"
    for variant in VARIANTS:
        assert rendered(variant).objects


def test_the_root_kustomization_is_the_base() -> None:
    assert rendered(".").text == rendered("base").text


@variants
def test_every_crd_of_the_repository_is_installed(variant: str) -> None:
    shipped = {
        crd["metadata"]["name"]
        for path in (DEPLOY / "crds").glob("*.yaml")
        if path.stem != "kustomization"
        for crd in yaml.safe_load_all(path.read_text())
        if crd
    }
    installed = {
        crd["metadata"]["name"] for crd in rendered(variant).all("CustomResourceDefinition")
    }
    assert installed == shipped


@variants
def test_every_variable_is_a_setting_of_the_server(variant: str) -> None:
    known = {o.env for o in options()}
    names = [e["name"] for e in rendered(variant).container.get("env", [])]
    assert len(names) == len(set(names)), "a variable set twice"
    # The loader ignores variables it does not know: a misspelt one would be lost silently.
    assert set(names) <= known, set(names) - known
    assert set(IMAGE.env) - known <= PROCESS_ENV


@variants
def test_the_server_accepts_the_settings_and_listens_where_the_pod_says(
    variant: str, tmp_path: Path
) -> None:
    found = rendered(variant)
    settings = settings_of(variant, tmp_path)
    named = ports(found)
    host, _, port = settings.listen.rpartition(":")
    assert host == "0.0.0.0", "the kubelet and the Service reach the pod's address"
    assert int(port) == named["grpc"]
    assert settings.auth_enabled and settings.auth.token_review
    assert (settings.health_host, settings.health_port) == ("0.0.0.0", named["health"])
    assert settings.metrics_port == named["metrics"]
    assert settings.workflow.enabled
    election = settings.workflow.leader_election
    assert election.enabled
    assert election.identity == POD_NAME
    assert election.lease_namespace == SERVER_NAMESPACE


def test_the_base_keeps_its_sqlite_file_on_its_volume(tmp_path: Path) -> None:
    found = rendered(".")
    url = make_url(settings_of(".", tmp_path).database_url)
    assert url.get_backend_name() == "sqlite" and url.database
    mount = found.mount_of(url.database)
    assert mount is not None and not mount.get("readOnly")
    claim = found.volume(mount["name"])["persistentVolumeClaim"]["claimName"]
    assert found.one("PersistentVolumeClaim", claim)["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert found.deployment["spec"]["replicas"] == 1
    assert found.deployment["spec"]["strategy"] == {"type": "Recreate"}


def test_postgres_runs_two_replicas_on_the_database_of_a_secret(tmp_path: Path) -> None:
    found = rendered("overlays/postgres")
    settings = settings_of("overlays/postgres", tmp_path)
    assert make_url(settings.database_url).get_backend_name() == "postgresql"
    [entry] = [e for e in found.container["env"] if e["name"] == "ASSAY_DATABASE_URL"]
    assert set(entry) == {"name", "valueFrom"} and "secretKeyRef" in entry["valueFrom"]
    assert settings.workflow.leader_election.enabled
    spec = found.deployment["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert not found.all("PersistentVolumeClaim")
    spread = {c["topologyKey"]: c for c in found.pod["topologySpreadConstraints"]}
    by_host = spread["kubernetes.io/hostname"]
    assert by_host["whenUnsatisfiable"] == "DoNotSchedule" and by_host["maxSkew"] == 1
    assert by_host["labelSelector"]["matchLabels"].items() <= pod_labels(found).items()


def test_tls_serves_the_certificate_of_a_secret_and_probes_over_http(tmp_path: Path) -> None:
    found = rendered("overlays/tls")
    settings = settings_of("overlays/tls", tmp_path)
    assert settings.tls.cert and settings.tls.key
    for variable in ("ASSAY_TLS_CERT", "ASSAY_TLS_KEY"):
        path = container_env(found)[variable]
        mount = found.mount_of(path)
        assert mount is not None and mount["readOnly"]
        assert found.volume(mount["name"])["secret"]["secretName"] == "assay-tls"


def pod_labels(found: Rendered) -> dict[str, str]:
    return dict(found.deployment["spec"]["template"]["metadata"]["labels"])


@variants
def test_probes_ask_the_server_what_they_mean(variant: str, tmp_path: Path) -> None:
    found = rendered(variant)
    settings = settings_of(variant, tmp_path)
    container = found.container
    named = ports(found)
    # Liveness: the process answers. Never storage: a database outage must not restart it.
    liveness = container["livenessProbe"]["httpGet"]
    assert liveness["path"] == "/healthz"
    assert named.get(liveness["port"], liveness["port"]) == settings.health_port
    readiness, startup = container["readinessProbe"], container["startupProbe"]
    assert readiness != container["livenessProbe"]
    if settings.tls.cert:
        # The kubelet's gRPC probe has no TLS: with TLS on the port, HTTP on the health port.
        assert readiness["httpGet"] == {"path": "/readyz", "port": "health"}
        assert "httpGet" in startup
    else:
        grpc_port = int(settings.listen.rpartition(":")[2])
        assert readiness["grpc"] == {"port": grpc_port}
        assert startup["grpc"] == {"port": grpc_port}
    for probe in (readiness, startup, container["livenessProbe"]):
        assert len({"grpc", "httpGet", "tcpSocket", "exec"} & probe.keys()) == 1
    # Migrations and the controller's first lists happen before the server listens.
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 60


@variants
def test_the_grace_period_covers_the_server_shutdown(variant: str, tmp_path: Path) -> None:
    found = rendered(variant)
    grace = settings_of(variant, tmp_path).shutdown_grace_s
    assert grace == Settings().shutdown_grace_s, "the Deployment keeps the default grace"
    pre_stop = found.container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop == ["sleep", str(PRE_STOP_SLEEP)]
    # In-flight runs get the grace to record their end, then RPCs get it to finish.
    needed = PRE_STOP_SLEEP + 2 * grace
    period = found.pod["terminationGracePeriodSeconds"]
    assert needed + STOP_MARGIN[0] <= period <= needed + STOP_MARGIN[1]


@variants
def test_the_pod_runs_restricted_as_the_image_user(variant: str) -> None:
    found = rendered(variant)
    pod, container = found.pod, found.container
    uid, _, gid = IMAGE.user.partition(":")
    context = pod["securityContext"]
    assert context["runAsNonRoot"] is True
    assert (context["runAsUser"], context["runAsGroup"]) == (int(uid), int(gid))
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    own = container["securityContext"]
    assert own["readOnlyRootFilesystem"] is True
    assert own["allowPrivilegeEscalation"] is False
    assert own["capabilities"] == {"drop": ["ALL"]}
    assert not {"privileged", "procMount"} & own.keys()
    assert not {"hostNetwork", "hostPID", "hostIPC"} & pod.keys()
    assert all(port.keys() == {"name", "containerPort"} for port in container["ports"])
    for volume in pod["volumes"]:
        assert volume.keys() - {"name"} <= RESTRICTED_VOLUMES, volume
    # A Service named assay would put ASSAY_SERVICE_HOST and the like in the environment
    # the settings are read from.
    assert pod["enableServiceLinks"] is False


@variants
def test_every_path_the_server_writes_is_a_writable_volume(variant: str, tmp_path: Path) -> None:
    found = rendered(variant)
    env = container_env(found)
    written = [env["HOME"], env["TMPDIR"]]
    url = make_url(settings_of(variant, tmp_path).database_url)
    if url.get_backend_name() == "sqlite":
        written.append(str(Path(str(url.database)).parent))
    for path in written:
        mount = found.mount_of(path)
        assert mount is not None and not mount.get("readOnly"), path
        volume = found.volume(mount["name"])
        assert {"emptyDir", "persistentVolumeClaim"} & volume.keys(), volume
        if "emptyDir" in volume:
            assert volume["emptyDir"].get("sizeLimit"), "a scratch volume has a size limit"


@variants
def test_the_api_token_is_mounted_where_the_client_reads_it(variant: str) -> None:
    found = rendered(variant)
    account = found.one("ServiceAccount", found.pod["serviceAccountName"], SERVER_NAMESPACE)
    # Off on the account and the pod: the pod mounts it itself, with a bounded lifetime.
    assert account["automountServiceAccountToken"] is False
    assert found.pod["automountServiceAccountToken"] is False
    mount = found.mount_of("/var/run/secrets/kubernetes.io/serviceaccount/token")
    assert mount is not None and mount["readOnly"]
    sources = found.volume(mount["name"])["projected"]["sources"]
    token = next(s["serviceAccountToken"] for s in sources if "serviceAccountToken" in s)
    assert token["path"] == "token" and token["expirationSeconds"] <= 3607
    paths = {
        item["path"]
        for source in sources
        for kind in ("configMap", "downwardAPI")
        for item in source.get(kind, {}).get("items", [])
    }
    assert {"ca.crt", "namespace"} <= paths


@variants
def test_resources_and_image(variant: str) -> None:
    found = rendered(variant)
    resources = found.container["resources"]
    assert {"cpu", "memory"} <= resources["requests"].keys()
    assert {"cpu", "memory"} <= resources["limits"].keys()
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert found.container["image"] == f"ghcr.io/kubernaut/assay:{version}"
    assert found.deployment["metadata"]["labels"]["app.kubernetes.io/version"] == version
    assert found.container["args"] == ["--workflows"]
    assert "command" not in found.container, "the image's entrypoint runs the server"


@variants
def test_the_disruption_budget_lets_a_drain_move_every_pod(variant: str) -> None:
    found = rendered(variant)
    [budget] = found.all("PodDisruptionBudget")
    spec = budget["spec"]
    assert spec["selector"]["matchLabels"].items() <= pod_labels(found).items()
    assert spec["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    replicas = found.deployment["spec"]["replicas"]
    if "maxUnavailable" in spec:
        assert 1 <= spec["maxUnavailable"] < max(2, replicas)
    else:
        assert spec["minAvailable"] < replicas


@variants
def test_the_service_reaches_the_grpc_and_metrics_ports(variant: str) -> None:
    found = rendered(variant)
    service = found.one("Service", SERVER, SERVER_NAMESPACE)
    assert service["spec"]["selector"].items() <= pod_labels(found).items()
    targets = {p["targetPort"] for p in service["spec"]["ports"]}
    assert targets == {"grpc", "metrics"}
    assert targets <= ports(found).keys()
    assert service["spec"].get("type", "ClusterIP") == "ClusterIP"


def _allows(rules: list[dict[str, Any]], port: int | str, named: dict[str, int]) -> bool:
    def number(value: int | str) -> int:
        return named[value] if isinstance(value, str) else value

    return any(number(p["port"]) == number(port) for rule in rules for p in rule.get("ports", []))


@variants
def test_network_policies_deny_by_default_and_allow_what_the_server_uses(
    variant: str, tmp_path: Path
) -> None:
    found = rendered(variant)
    settings = settings_of(variant, tmp_path)
    for namespace in {n["metadata"]["name"] for n in found.all("Namespace")}:
        deny = found.one("NetworkPolicy", "default-deny", namespace)
        assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    policy = found.one("NetworkPolicy", SERVER, SERVER_NAMESPACE)["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= pod_labels(found).items()
    named = ports(found)
    for port in named.values():
        assert _allows(policy["ingress"], port, named), f"ingress to {port}"
    needed = [53, 443, 6443]
    url = make_url(settings.database_url)
    if url.get_backend_name() == "postgresql":
        needed.append(url.port or 5432)
    for port in needed:
        assert _allows(policy["egress"], port, named), f"egress to {port}"
    assert all(rule.get("ports") for rule in policy["ingress"] + policy["egress"])


@variants
def test_namespaces_enforce_pod_security(variant: str) -> None:
    found = rendered(variant)
    labels = found.one("Namespace", SERVER_NAMESPACE)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    for namespace in found.all("Namespace"):
        level = namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
        assert level in {"baseline", "restricted"}


def test_components_compose_into_postgres_with_tls(tmp_path: Path) -> None:
    overlay = tmp_path / "both"
    overlay.mkdir()
    # kustomize takes only relative paths to other kustomizations.
    base, postgres, tls = (
        os.path.relpath(DEPLOY / part, overlay)
        for part in ("base", "components/postgres", "components/tls")
    )
    (overlay / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources: [{base}]\ncomponents: [{postgres}, {tls}]\n"
    )
    found = rendered(str(overlay))
    settings = effective_settings(found, tmp_path / "secrets")
    assert make_url(settings.database_url).get_backend_name() == "postgresql"
    assert settings.tls.cert and found.deployment["spec"]["replicas"] == 2
    assert "grpc" not in found.container["readinessProbe"]
