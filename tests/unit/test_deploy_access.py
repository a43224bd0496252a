"""deploy/'s RBAC against what the code does, and deploy/ assessed by Assay's own catalogue.

RBAC: the ServiceAccount may read every kind the registered checks read (derived from the
registry, so a check reading a new kind fails here until the role lists it), do what the
workflow controller and authentication do with the settings the pod runs with (the
resources named by the code's own constants), and nothing else.

Catalogue: the rendered manifests go through the manifest loader of uploaded runs and every
registered check, with deploy/assay-policy.yaml; nothing may fail, and every exemption names
its check in its reason and excuses a result that would fail without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from assay.server.auth.review import SUBJECT_ACCESS_REVIEWS, TOKEN_REVIEWS
from assay.server.checks import builtin_registry
from assay.server.checks.kit.catalogue import Catalogue
from assay.server.checks.kit.definition import Finding
from assay.server.checks.kit.evaluate import evaluate
from assay.server.checks.kit.exemptions import (
    CONTAINER_PREFIX,
    EXEMPT_ANNOTATION,
    EXEMPT_REASON_ANNOTATION,
    Exemptions,
    parse_ids,
)
from assay.server.checks.kit.policy import load_policy
from assay.server.checks.kit.registry import required_kinds
from assay.server.core.types import Status
from assay.server.inventory.kinds import KNOWN_RESOURCES, WORKLOAD_KINDS
from assay.server.inventory.manifests import load_files
from assay.server.inventory.model import Inventory, ObjectKey
from assay.server.inventory.tree import ManifestFile
from assay.server.kube.resources import EVENTS, LEASES, Resource
from assay.server.settings import Settings
from assay.server.workflow.model import PIPELINE_RUNS, TASK_RUNS, WORKFLOW_EXECUTIONS
from tests.unit.rendered import (
    DEPLOY,
    SERVER_NAMESPACE,
    VARIANTS,
    Rendered,
    effective_settings,
    rendered,
)

variants = pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.strip("."))
READ = frozenset({"get", "list", "watch"})
POLICY = DEPLOY / "assay-policy.yaml"


@dataclass(frozen=True)
class Grant:
    """One rule as bound to the server's account: ``namespace`` None means everywhere."""

    verbs: frozenset[str]
    groups: frozenset[str]
    resources: frozenset[str]
    names: frozenset[str]
    namespace: str | None

    def allows(self, verb: str, group: str, resource: str, namespace: str | None) -> bool:
        return (
            verb in self.verbs
            and group in self.groups
            and resource in self.resources
            and (self.namespace is None or self.namespace == namespace)
        )


def grants(found: Rendered, account: str) -> list[Grant]:
    """Every rule bound to ServiceAccount ``account`` of the server's namespace."""
    roles = {
        (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o.get("rules", [])
        for o in found.objects
        if o["kind"] in ("Role", "ClusterRole")
    }
    found_grants = []
    for binding in found.all("ClusterRoleBinding") + found.all("RoleBinding"):
        subject = {"kind": "ServiceAccount", "name": account, "namespace": SERVER_NAMESPACE}
        if subject not in binding.get("subjects", []):
            continue
        namespace = binding["metadata"].get("namespace")
        ref = binding["roleRef"]
        role_namespace = namespace if ref["kind"] == "Role" else ""
        for rule in roles[(ref["kind"], role_namespace or "", ref["name"])]:
            found_grants.append(
                Grant(
                    frozenset(rule["verbs"]),
                    frozenset(rule["apiGroups"]),
                    frozenset(rule["resources"]),
                    frozenset(rule.get("resourceNames", [])),
                    namespace if binding["kind"] == "RoleBinding" else None,
                )
            )
    return found_grants


@dataclass(frozen=True)
class Need:
    verbs: frozenset[str]
    resource: Resource
    namespace: str | None
    subresource: str = ""
    name: str | None = None

    @property
    def plural(self) -> str:
        return (
            f"{self.resource.plural}/{self.subresource}"
            if self.subresource
            else self.resource.plural
        )


def needs(settings: Settings) -> list[Need]:
    """What the server asks the API server for, with these settings, besides the reads of
    the checks."""
    workflow = settings.workflow
    found = []
    if workflow.enabled:
        where = workflow.watch_namespace or None  # executions live anywhere when it is empty
        election = workflow.leader_election
        found += [
            Need(
                frozenset({"get", "list", "watch", "create", "update"}), WORKFLOW_EXECUTIONS, where
            ),
            Need(frozenset({"update"}), WORKFLOW_EXECUTIONS, where, "status"),
            Need(frozenset({"update"}), WORKFLOW_EXECUTIONS, where, "finalizers"),
            Need(frozenset({"create"}), EVENTS, where),
            Need(
                frozenset({"get", "list", "watch", "create", "delete"}),
                PIPELINE_RUNS,
                workflow.namespace,
            ),
            Need(frozenset({"list"}), TASK_RUNS, workflow.namespace),
            Need(frozenset({"get", "create", "update", "delete"}), LEASES, workflow.namespace),
        ]
        if election.enabled:
            lease_namespace = election.lease_namespace or workflow.namespace
            found += [
                Need(frozenset({"create"}), LEASES, lease_namespace),
                Need(
                    frozenset({"get", "update"}), LEASES, lease_namespace, name=election.lease_name
                ),
            ]
    if settings.auth.token_review:
        found.append(Need(frozenset({"create"}), TOKEN_REVIEWS, None))
        if settings.metrics_port:
            found.append(Need(frozenset({"create"}), SUBJECT_ACCESS_REVIEWS, None))
    return found


def catalogue_reads() -> set[tuple[str, str]]:
    kinds = required_kinds(builtin_registry().all())
    return {(KNOWN_RESOURCES[k].group, KNOWN_RESOURCES[k].plural) for k in kinds}


@variants
def test_the_account_reads_every_kind_the_catalogue_reads_and_no_more(variant: str) -> None:
    found = rendered(variant)
    account = found.pod["serviceAccountName"]
    bound = grants(found, account)
    wanted = catalogue_reads()
    for group, plural in sorted(wanted):
        for verb in READ:
            assert any(g.allows(verb, group, plural, None) for g in bound), (
                f"{verb} {plural}.{group} everywhere: a check reads it"
            )
    read_only = [g for g in bound if g.verbs <= READ and g.namespace is None]
    read = {(group, r) for g in read_only for group in g.groups for r in g.resources}
    assert read == wanted, f"read but never by a check: {sorted(read - wanted)}"
    assert all(g.verbs == READ and not g.names for g in read_only)


@variants
def test_the_account_may_do_what_the_server_does_and_nothing_else(
    variant: str, tmp_path: Path
) -> None:
    found = rendered(variant)
    bound = grants(found, found.pod["serviceAccountName"])
    wanted = needs(effective_settings(found, tmp_path))
    for need in wanted:
        for verb in need.verbs:
            covering = [
                g
                for g in bound
                if g.allows(verb, need.resource.group, need.plural, need.namespace)
                and (not g.names or need.name in g.names)
            ]
            assert covering, f"{verb} {need.plural}.{need.resource.group} in {need.namespace}"
    reads = catalogue_reads()
    for grant in bound:
        for verb in grant.verbs:
            for group in grant.groups:
                for resource in grant.resources:
                    used = (verb in READ and (group, resource) in reads) or any(
                        verb in n.verbs
                        and (group, resource) == (n.resource.group, n.plural)
                        and n.namespace in (None, grant.namespace)
                        and (n.name is None or grant.names == {n.name})
                        for n in wanted
                    )
                    assert used, f"granted, never used: {verb} {resource}.{group} {grant}"


@variants
def test_no_rule_grants_a_wildcard(variant: str) -> None:
    for role in rendered(variant).all("Role") + rendered(variant).all("ClusterRole"):
        for rule in role["rules"]:
            for field in ("verbs", "apiGroups", "resources"):
                assert "*" not in rule[field], f"{role['metadata']['name']}: * in {field}"


# -- Assay's catalogue on its own manifests ------------------------------------------------------


def inventory_of(variant: str) -> Inventory:
    text = rendered(variant).text.encode()
    inventory = load_files([ManifestFile(f"deploy-{variant.strip('./') or 'base'}.yaml", text)])
    assert not inventory.diagnostics, inventory.diagnostics
    return inventory


def run_catalogue(
    inventory: Inventory, catalogue: Catalogue, *, exempt: bool
) -> list[tuple[str, Finding]]:
    exemptions = (
        catalogue.exemptions(inventory, today=date.today())
        if exempt
        else Exemptions(inventory, honour_annotations=False)
    )
    return [
        (check.id, finding)
        for check in catalogue.select()
        for finding in evaluate(
            check, inventory, params=catalogue.params(check), exemptions=exemptions
        )
    ]


def annotated(found: Rendered) -> dict[ObjectKey, tuple[dict[str, frozenset[str]], str]]:
    """Each object's exemptions, from it and its pod template: ids per container ("" for the
    object), and the reason (the object's first, as the server reads them)."""
    result = {}
    for obj in found.objects:
        sources = [obj["metadata"].get("annotations", {})]
        if obj["kind"] in WORKLOAD_KINDS and obj["kind"] != "Pod":
            template = obj["spec"].get("template", obj["spec"].get("jobTemplate", {}))
            sources.append(template.get("metadata", {}).get("annotations", {}))
        ids: dict[str, frozenset[str]] = {}
        reason = ""
        for notes in sources:
            ids[""] = ids.get("", frozenset()) | parse_ids(notes.get(EXEMPT_ANNOTATION))
            for key, value in notes.items():
                if key.startswith(CONTAINER_PREFIX):
                    name = key.removeprefix(CONTAINER_PREFIX)
                    ids[name] = ids.get(name, frozenset()) | parse_ids(value)
            reason = reason or str(notes.get(EXEMPT_REASON_ANNOTATION, ""))
        if any(ids.values()):
            key = (obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
            result[key] = (ids, reason)
    return result


def _where(finding: Finding) -> ObjectKey | None:
    ref = finding.object
    return None if ref is None else (ref.kind, ref.namespace, ref.name)


@variants
def test_assay_passes_its_own_manifests(variant: str) -> None:
    catalogue = Catalogue(builtin_registry(), load_policy(POLICY, builtin_registry()))
    results = run_catalogue(inventory_of(variant), catalogue, exempt=True)
    assert len({check for check, _ in results}) == len(builtin_registry().all())
    bad = [
        f"{check} {_where(f)} {f.container}: {f.message}"
        for check, f in results
        if f.status in (Status.FAILING, Status.WARNING, Status.ERROR, Status.TIMEOUT)
    ]
    assert not bad, "\n".join(bad)
    exemptions = annotated(rendered(variant))
    for check, finding in results:
        if not finding.exempted:
            continue
        where = _where(finding)
        if where is None:  # about the cluster as a whole: only the policy file can say why
            assert any(rule.covers(check) for rule in catalogue.policy.exemptions)
            continue
        ids, reason = exemptions[where]
        assert check in ids[""] | ids.get(finding.container, frozenset()), (check, where)
        assert check in reason, f"{where}: the exempt-reason does not say why {check} stands"


@variants
def test_every_exemption_excuses_a_result_that_would_fail(variant: str) -> None:
    registry = builtin_registry()
    policy = load_policy(POLICY, registry)
    unexempted = run_catalogue(inventory_of(variant), Catalogue(registry, policy), exempt=False)
    failing = {
        (check, _where(f), f.container)
        for check, f in unexempted
        if f.status in (Status.FAILING, Status.WARNING)
    }
    for where, (ids, _) in annotated(rendered(variant)).items():
        for container, checks in ids.items():
            for check in checks:
                hits = {(c, w) for c, w, name in failing if not container or name == container}
                assert (check, where) in hits, f"stale exemption: {check} on {where} {container}"
    for rule in policy.exemptions:
        for check in rule.checks:
            assert (check, None, "") in failing, f"stale policy exemption: {check}"


def test_the_policy_exempts_only_results_about_the_cluster() -> None:
    policy = load_policy(POLICY, builtin_registry())
    for rule in policy.exemptions:
        assert (rule.namespace, rule.kind, rule.name, rule.container) == (None,) * 4
        assert rule.reason.strip()
