"""Reliability checks on references between objects: what a pod needs must exist.

REL-021 follows every reference path of the kit's walker
(:func:`~assay.server.checks.kit.references.pod_references`: env, envFrom, volumes,
projected volumes, CSI and other secret refs, imagePullSecrets, the ServiceAccount), a
StatefulSet's ``serviceName`` and ServiceAccounts' ``imagePullSecrets``, and looks each
target up by kind, namespace and name: one lookup per reference.
"""

from __future__ import annotations

from collections.abc import Iterator

from assay.server.checks.kit import (
    Applicability,
    CheckDefinition,
    Context,
    Finding,
    NoParams,
    check,
    ref_of,
)
from assay.server.checks.kit.observed import unreadable_kinds
from assay.server.checks.kit.references import (
    CLAIM,
    CONFIGMAP,
    SECRET,
    SERVICE_ACCOUNT,
    Reference,
    pod_references,
)
from assay.server.checks.kit.system_objects import PER_NAMESPACE
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import WORKLOAD_KINDS, Inventory, Workload
from assay.server.inventory.raw import as_mappings, dig, name_of, namespace_of

SERVICE = "Service"
PULL_SECRETS = "imagePullSecrets"
"""The walker's ``via`` for pod imagePullSecrets: it marks them optional because the kubelet
still tries an anonymous pull, but a missing pull secret breaks every private image."""

_SECRET_MAKERS = {
    "SealedSecret": "bitnami.com",
    "ExternalSecret": "external-secrets.io",
    "Certificate": "cert-manager.io",
}
"""Objects that create a Secret of a known name in their namespace (read from manifests:
on a live cluster the Secret itself is there, or is rightly missing)."""


def made_secrets(inventory: Inventory) -> frozenset[tuple[str, str]]:
    """(namespace, name) of the Secrets that SealedSecrets, ExternalSecrets and cert-manager
    Certificates in the inventory will create."""

    def compute() -> frozenset[tuple[str, str]]:
        found = set()
        for kind, group in _SECRET_MAKERS.items():
            for obj in inventory.objects(kind):
                if str(obj.get("apiVersion") or "").split("/")[0] != group:
                    continue
                spec = dig(obj, "spec")
                if kind == "Certificate":
                    name = spec.get("secretName")
                elif kind == "ExternalSecret":
                    name = dig(spec, "target").get("name") or name_of(obj)
                else:
                    name = dig(spec, "template", "metadata").get("name") or name_of(obj)
                if name:
                    found.add((namespace_of(obj), str(name)))
        return frozenset(found)

    return inventory.memo("reliability:made-secrets", compute)


REL_021 = CheckDefinition(
    id="REL-021",
    pillar=Pillar.RELIABILITY,
    name="Dangling references",
    description=(
        "A pod that refers to a ConfigMap, Secret, PersistentVolumeClaim or ServiceAccount "
        "that does not exist never starts (CreateContainerConfigError, volume mount "
        "failures, rejected by admission); a missing pull secret breaks private images; a "
        "StatefulSet's serviceName without a headless Service gives its pods no stable DNS."
    ),
    severity=Severity.HIGH,
    scope="X",
    remediation=(
        "Create the missing object in the workload's namespace (or fix the name in the "
        "reference); mark a ConfigMap or Secret reference optional: true only if the pod "
        "really works without it. For a StatefulSet, create a Service with clusterIP: None "
        "named as spec.serviceName that selects its pods."
    ),
    kinds=(*WORKLOAD_KINDS, CONFIGMAP, SECRET, SERVICE_ACCOUNT, CLAIM, SERVICE),
    applies_to=Applicability("top-level workloads, and ServiceAccounts with imagePullSecrets"),
    notes=(
        "Paths followed: container, init and ephemeral container env valueFrom and "
        "envFrom; configMap, secret, persistentVolumeClaim and projected volumes, CSI "
        "nodePublishSecretRef and in-tree secretRef volumes; pod imagePullSecrets; the "
        "pod's ServiceAccount; ServiceAccount imagePullSecrets; StatefulSet serviceName.",
        "References marked optional: true pass when their target is missing, as the "
        "kubelet tolerates them; imagePullSecrets always count. The default ServiceAccount "
        "and the kube-root-ca.crt ConfigMap (which projected API tokens mount) are created "
        "in every namespace and are never missing.",
        "On manifests, a Secret counts as present when a SealedSecret (bitnami.com), "
        "ExternalSecret (external-secrets.io) or cert-manager Certificate in the files will "
        "create it; on a live cluster, kinds Assay could not list (Secrets are often "
        "forbidden) are not judged.",
        "Broader than kube-linter's non-existent-service-account, which follows only the "
        "pod's ServiceAccount.",
    ),
)


def _missing(
    inventory: Inventory, namespace: str, ref: Reference, unreadable: frozenset[str]
) -> str | None:
    """Why ``ref`` is dangling, or ``None``."""
    if (ref.kind, ref.name) in PER_NAMESPACE:  # the default ServiceAccount, kube-root-ca.crt
        return None
    if ref.kind in unreadable or inventory.get(ref.kind, namespace, ref.name) is not None:
        return None
    if ref.kind == SECRET and (namespace, ref.name) in made_secrets(inventory):
        return None
    if ref.optional and ref.via != PULL_SECRETS:
        return None
    where = f"{ref.container}: " if ref.container else ""
    return f"{where}{ref.via} refers to missing {ref.kind} {ref.name}"


def _stateful_service(inventory: Inventory, workload: Workload) -> str | None:
    service_name = workload.spec.get("serviceName")
    if workload.kind != "StatefulSet" or not service_name:
        return None
    if SERVICE in unreadable_kinds(inventory):
        return None
    service = inventory.get(SERVICE, workload.namespace, str(service_name))
    if service is None:
        return f"serviceName refers to missing Service {service_name}"
    cluster_ip = dig(service, "spec").get("clusterIP")
    if cluster_ip != "None":
        return f"serviceName {service_name} is not headless (clusterIP {cluster_ip or 'unset'})"
    return None


def _workload_problems(inventory: Inventory, workload: Workload) -> tuple[list[str], int]:
    unreadable = unreadable_kinds(inventory)
    problems, count = [], 0
    for ref in pod_references(workload.pod_spec, workload.containers()):
        count += 1
        problem = _missing(inventory, workload.namespace, ref, unreadable)
        if problem:
            problems.append(problem)
    stateful = _stateful_service(inventory, workload)
    if stateful:
        problems.append(stateful)
    return problems, count


@check(REL_021)
def dangling_references(ctx: Context[NoParams]) -> Iterator[Finding]:
    inventory = ctx.inventory
    for workload in inventory.workloads():
        problems, count = _workload_problems(inventory, workload)
        if problems:
            yield Finding.failing(workload.ref, "; ".join(dict.fromkeys(problems)))
        else:
            noun = "reference resolves" if count == 1 else "references resolve"
            yield Finding.passing(workload.ref, f"{count} {noun}")
    unreadable = unreadable_kinds(inventory)
    for account in inventory.objects(SERVICE_ACCOUNT):
        pulls = [str(p["name"]) for p in as_mappings(account.get(PULL_SECRETS)) if p.get("name")]
        if not pulls:
            continue
        namespace = namespace_of(account)
        missing = [
            name
            for name in pulls
            if SECRET not in unreadable
            and inventory.get(SECRET, namespace, name) is None
            and (namespace, name) not in made_secrets(inventory)
        ]
        ref = ref_of(SERVICE_ACCOUNT, account)
        if missing:
            names = ", ".join(missing)
            yield Finding.failing(ref, f"imagePullSecrets refers to missing Secret {names}")
        else:
            yield Finding.passing(ref, f"imagePullSecrets {', '.join(pulls)} exist")


CHECKS = (dangling_references,)
