"""Which objects refer to which: ConfigMaps, Secrets, PersistentVolumeClaims, ServiceAccounts.

One walker over every reference path, shared by the checks that look for references to
missing objects (dangling) and for objects nothing refers to (orphans)::

    for ref in pod_references(workload.pod_spec, workload.containers()): ...  # with the path
    if name in used_names(inventory, "Secret", namespace): ...   # per object, indexed once

Paths followed: container, init and ephemeral container ``env[].valueFrom`` and ``envFrom``;
volumes (``configMap``, ``secret``, ``persistentVolumeClaim``, ``projected`` sources, CSI
``nodePublishSecretRef`` and the other in-tree ``secretRef`` volumes); ``imagePullSecrets``;
the pod's ServiceAccount; ServiceAccount ``secrets`` and ``imagePullSecrets``; Ingress
``tls[].secretName`` and ingress-nginx's secret annotations; Gateway listener
``tls.certificateRefs``; PersistentVolume CSI secret refs and StorageClass CSI secret
parameters (literal names only, not ``${pvc.name}`` templates), which name the Secret's
namespace; StatefulSet ``volumeClaimTemplates`` (the claims they create).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from assay.server.inventory.model import Inventory
from assay.server.inventory.raw import KubeObject, as_mappings, dig, name_of
from assay.server.inventory.workloads import Container, containers

CONFIGMAP = "ConfigMap"
SECRET = "Secret"
CLAIM = "PersistentVolumeClaim"
SERVICE_ACCOUNT = "ServiceAccount"

_SECRET_REF_VOLUMES = ("cephfs", "cinder", "flexVolume", "iscsi", "rbd", "scaleIO", "storageos")


@dataclass(frozen=True, slots=True)
class Reference:
    """One reference from a pod spec (or another object) to a named object in its namespace.

    ``via`` says where, for messages: ``env DB_PASSWORD (secretKeyRef)``, ``volume certs``.
    ``optional`` marks references the kubelet tolerates when the target is missing.
    ``namespace`` is set when the reference names the target's namespace (cluster-scoped
    referrers such as PersistentVolumes, or a Gateway's cross-namespace certificate).
    """

    kind: str
    name: str
    via: str
    container: str = ""
    optional: bool = False
    namespace: str = ""


def pod_references(
    pod_spec: KubeObject, pod_containers: Iterable[Container] | None = None
) -> Iterator[Reference]:
    """Every reference of a pod spec, in spec order; ``pod_containers`` are its containers
    when the caller has them already (a workload's view: ``workload.containers()``)."""
    for volume in as_mappings(pod_spec.get("volumes")):
        yield from _volume_references(volume)
    for container in containers(pod_spec) if pod_containers is None else pod_containers:
        name = container.name
        for env in as_mappings(container.spec.get("env")):
            if "valueFrom" not in env:
                continue  # most variables are plain values: nothing to read
            source = dig(env, "valueFrom")
            for field, kind in (("configMapKeyRef", CONFIGMAP), ("secretKeyRef", SECRET)):
                ref = dig(source, field)
                if ref.get("name"):
                    via = f"env {env.get('name')} ({field})"
                    yield Reference(kind, str(ref["name"]), via, name, ref.get("optional") is True)
        for env_from in as_mappings(container.spec.get("envFrom")):
            for field, kind in (("configMapRef", CONFIGMAP), ("secretRef", SECRET)):
                ref = dig(env_from, field)
                if ref.get("name"):
                    via = f"envFrom {field}"
                    yield Reference(kind, str(ref["name"]), via, name, ref.get("optional") is True)
    for pull in as_mappings(pod_spec.get("imagePullSecrets")):
        if pull.get("name"):
            yield Reference(SECRET, str(pull["name"]), "imagePullSecrets", optional=True)
    account = pod_spec.get("serviceAccountName") or pod_spec.get("serviceAccount") or "default"
    yield Reference(SERVICE_ACCOUNT, str(account), "serviceAccountName")


def _volume_references(volume: KubeObject) -> Iterator[Reference]:
    # A volume names one source among dozens: each path is read only when its key is there
    # (this walks every pod spec of a live cluster).
    via = f"volume {volume.get('name')}"
    if "configMap" in volume:
        config_map = dig(volume, "configMap")
        if config_map.get("name"):
            yield Reference(CONFIGMAP, str(config_map["name"]), via, "", _optional(config_map))
    if "secret" in volume:
        secret = dig(volume, "secret")
        if secret.get("secretName"):
            yield Reference(SECRET, str(secret["secretName"]), via, "", _optional(secret))
    if "persistentVolumeClaim" in volume:
        claim = dig(volume, "persistentVolumeClaim")
        if claim.get("claimName"):
            yield Reference(CLAIM, str(claim["claimName"]), via)
    if "projected" in volume:
        for source in as_mappings(dig(volume, "projected").get("sources")):
            for field, kind in (("configMap", CONFIGMAP), ("secret", SECRET)):
                ref = dig(source, field)
                if ref.get("name"):
                    yield Reference(
                        kind, str(ref["name"]), f"{via} (projected)", "", _optional(ref)
                    )
    if "csi" in volume:
        publish = dig(volume, "csi", "nodePublishSecretRef")
        if publish.get("name"):
            yield Reference(SECRET, str(publish["name"]), f"{via} (csi nodePublishSecretRef)")
    for driver in _SECRET_REF_VOLUMES:
        if driver in volume:
            ref = dig(volume, driver, "secretRef")
            if ref.get("name"):
                yield Reference(SECRET, str(ref["name"]), f"{via} ({driver} secretRef)")
    if "azureFile" in volume:
        azure = dig(volume, "azureFile")
        if azure.get("secretName"):
            yield Reference(SECRET, str(azure["secretName"]), f"{via} (azureFile)")


def _optional(source: KubeObject) -> bool:
    return source.get("optional") is True


REFERRING_KINDS = (SERVICE_ACCOUNT, "Ingress", "Gateway", "PersistentVolume", "StorageClass")
"""Kinds other than workloads whose objects refer to Secrets (see :func:`object_references`)."""

INGRESS_NGINX_SECRET_ANNOTATIONS = tuple(
    f"nginx.ingress.kubernetes.io/{key}"
    for key in ("auth-secret", "auth-tls-secret", "proxy-ssl-secret")
)
"""ingress-nginx annotations whose value is a Secret, ``name`` or ``namespace/name``."""
_CSI_SECRET_REFS = (
    "nodePublishSecretRef",
    "nodeStageSecretRef",
    "controllerPublishSecretRef",
    "controllerExpandSecretRef",
    "nodeExpandSecretRef",
)
_CSI_PARAMETER_PREFIX = "csi.storage.k8s.io/"


def object_references(obj: KubeObject, kind: str) -> Iterator[Reference]:
    """References held by objects other than pod specs (the :data:`REFERRING_KINDS`)."""
    if kind == SERVICE_ACCOUNT:
        for secret in as_mappings(obj.get("secrets")):
            if secret.get("name"):
                yield Reference(SECRET, str(secret["name"]), "secrets")
        for pull in as_mappings(obj.get("imagePullSecrets")):
            if pull.get("name"):
                yield Reference(SECRET, str(pull["name"]), "imagePullSecrets")
    elif kind == "Ingress":
        yield from _ingress_references(obj)
    elif kind == "Gateway":
        for listener in as_mappings(dig(obj, "spec").get("listeners")):
            for ref in as_mappings(dig(listener, "tls").get("certificateRefs")):
                if ref.get("name") and str(ref.get("kind") or SECRET) == SECRET:
                    via = f"listener {listener.get('name')} tls.certificateRefs"
                    namespace = str(ref.get("namespace") or "")
                    yield Reference(SECRET, str(ref["name"]), via, namespace=namespace)
    elif kind == "PersistentVolume":
        csi = dig(obj, "spec", "csi")
        for field in _CSI_SECRET_REFS:
            ref = dig(csi, field)
            if ref.get("name") and ref.get("namespace"):
                via = f"spec.csi.{field}"
                yield Reference(SECRET, str(ref["name"]), via, namespace=str(ref["namespace"]))
    elif kind == "StorageClass":
        yield from _storage_class_references(obj)


def _ingress_references(ingress: KubeObject) -> Iterator[Reference]:
    for tls in as_mappings(dig(ingress, "spec").get("tls")):
        if tls.get("secretName"):
            yield Reference(SECRET, str(tls["secretName"]), "spec.tls")
    annotations = dig(ingress, "metadata", "annotations")
    for key in INGRESS_NGINX_SECRET_ANNOTATIONS:
        value = annotations.get(key)
        if isinstance(value, str) and value:
            namespace, _, name = value.rpartition("/")
            yield Reference(SECRET, name, f"annotation {key}", namespace=namespace)


def _storage_class_references(storage_class: KubeObject) -> Iterator[Reference]:
    """``csi.storage.k8s.io/<operation>-secret-name`` with its ``-secret-namespace``."""
    parameters = dig(storage_class, "parameters")
    for key, value in parameters.items():
        if not (
            isinstance(key, str)
            and key.startswith(_CSI_PARAMETER_PREFIX)
            and key.endswith("-secret-name")
        ):
            continue
        namespace = parameters.get(key.removesuffix("-name") + "-namespace")
        if _literal(value) and _literal(namespace):
            yield Reference(SECRET, str(value), f"parameters {key}", namespace=str(namespace))


def _literal(value: object) -> bool:
    """A plain name, not a ``${pvc.namespace}``-style template the provisioner fills in."""
    return isinstance(value, str) and bool(value) and "${" not in value


@dataclass(frozen=True, slots=True)
class UsedNames:
    """Names referenced in one namespace, by kind, plus StatefulSet claim patterns."""

    names: Mapping[str, frozenset[str]]
    claim_patterns: tuple[re.Pattern[str], ...] = ()

    def __contains__(self, key: tuple[str, str]) -> bool:
        kind, name = key
        if name in self.names.get(kind, frozenset()):
            return True
        return kind == CLAIM and any(p.fullmatch(name) for p in self.claim_patterns)


_NOTHING = UsedNames({})


def used_names(inventory: Inventory, namespace: str) -> UsedNames:
    """What anything in ``namespace`` refers to (every workload, owned ones included, plus
    the :data:`REFERRING_KINDS`); computed once per inventory for all namespaces."""
    index = inventory.memo("kit:references", lambda: _index(inventory))
    return index.get(namespace, _NOTHING)


def _index(inventory: Inventory) -> dict[str, UsedNames]:
    names: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    patterns: dict[str, list[re.Pattern[str]]] = defaultdict(list)
    for workload in inventory.workloads(include_owned=True):
        found = names[workload.namespace]
        for ref in pod_references(workload.pod_spec, workload.containers()):
            found[ref.kind].add(ref.name)
        if workload.kind == "StatefulSet":
            for template in as_mappings(workload.spec.get("volumeClaimTemplates")):
                prefix = f"{name_of(template)}-{workload.name}-"
                patterns[workload.namespace].append(re.compile(re.escape(prefix) + r"\d+"))
    for kind in REFERRING_KINDS:
        for obj in inventory.objects(kind):
            namespace = str(dig(obj, "metadata").get("namespace") or "")
            for ref in object_references(obj, kind):
                names[ref.namespace or namespace][ref.kind].add(ref.name)
    return {
        namespace: UsedNames(
            {kind: frozenset(values) for kind, values in by_kind.items()},
            tuple(patterns.get(namespace, ())),
        )
        for namespace, by_kind in names.items()
    }
