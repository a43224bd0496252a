"""REL-028 (its live part over the Kubernetes API test double) and REL-029 parameters."""

from __future__ import annotations

from typing import Any

from assay.server.checks.kit.evaluate import evaluate
from assay.server.core.types import Source, Status
from assay.server.inventory import Diagnostic, Inventory
from tests.kubeapi import KubeApiDouble
from tests.unit.checks.cluster_state import (
    ago,
    claim,
    meta,
    warning,
)
from tests.unit.checks.objects import Obj
from tests.unit.checks.runs import (
    REGISTRY,
    catalogue,
    outcomes,
    run,
    run_live,
    statuses,
)


def _cronjob(name: str, **status: Any) -> Obj:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": meta(name, "shop", uid=f"uid-{name}"),
        "spec": {
            "schedule": "0 3 * * *",
            "startingDeadlineSeconds": 300,
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "OnFailure",
                            "containers": [{"name": "run", "image": "registry.example.com/r:1"}],
                        }
                    }
                }
            },
        },
        "status": status,
    }


def _job_of(cronjob: str, name: str, *, failed: bool, started: str) -> Obj:
    condition = (
        {
            "type": "Failed",
            "status": "True",
            "reason": "BackoffLimitExceeded",
            "message": "Job has reached the specified backoff limit",
        }
        if failed
        else {"type": "Complete", "status": "True"}
    )
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta(
            name,
            "shop",
            ownerReferences=[
                {
                    "apiVersion": "batch/v1",
                    "kind": "CronJob",
                    "name": cronjob,
                    "uid": f"uid-{cronjob}",
                    "controller": True,
                }
            ],
        ),
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "OnFailure",
                    "containers": [{"name": "run", "image": "registry.example.com/r:1"}],
                }
            }
        },
        "status": {"startTime": started, "conditions": [condition]},
    }


async def test_rel028_live_part_reads_cronjob_history_and_warnings(kube_api: KubeApiDouble) -> None:
    never = _cronjob("export", lastScheduleTime=ago(hours=9))
    flaky = _cronjob("report", lastScheduleTime=ago(hours=9), lastSuccessfulTime=ago(days=1))
    healthy = _cronjob("cleanup", lastScheduleTime=ago(hours=9), lastSuccessfulTime=ago(hours=9))
    objects = [
        never,
        flaky,
        _job_of("report", "report-1", failed=False, started=ago(days=1)),
        _job_of("report", "report-2", failed=True, started=ago(hours=9)),
        healthy,
        _job_of("cleanup", "cleanup-1", failed=True, started=ago(days=1)),
        _job_of("cleanup", "cleanup-2", failed=False, started=ago(hours=9)),
        warning(
            never,
            "FailedCreate",
            'Error creating job: jobs.batch "export-1" is forbidden: exceeded quota',
        ),
    ]
    found = outcomes(await run_live(kube_api, "REL-028", objects))
    assert found["export"] == (
        Status.FAILING,
        f"never succeeded (last scheduled {ago(hours=9)}); warning event FailedCreate: "
        'Error creating job: jobs.batch "export-1" is forbidden: exceeded quota',
    )
    assert found["report"] == (
        Status.FAILING,
        "its newest Job report-2 failed (BackoffLimitExceeded: Job has reached the "
        "specified backoff limit)",
    )
    assert found["cleanup"] == (Status.PASSING, "valid spec, no failed run or warning")
    # offline, the same objects only have their spec judged: all valid
    assert statuses(run("REL-028", objects)) == {
        "export": Status.PASSING,
        "report": Status.PASSING,
        "cleanup": Status.PASSING,
    }


def test_rel029_ignored_namespaces_from_the_policy() -> None:
    objects = [
        claim("etcd-snapshots", "kube-system", phase="Bound", created=ago(days=1)),
        claim("data", "tools", phase="Bound", created=ago(days=1)),
    ]
    assert set(outcomes(run("REL-029", objects))) == {"tools"}
    params = catalogue("checks: {REL-029: {params: {ignored_namespaces: [tools]}}}").params(
        REGISTRY.get("REL-029")
    )
    found = outcomes(run("REL-029", objects, params=params))
    assert found == {
        "kube-system": (
            Status.FAILING,
            "holds 1 PersistentVolumeClaim but no backup tool object covers it",
        )
    }


def test_rel029_k10_policy_without_selector_covers_every_namespace() -> None:
    policy = {
        "apiVersion": "config.kio.kasten.io/v1alpha1",
        "kind": "Policy",
        "metadata": {"name": "everything", "namespace": "kasten-io"},
        "spec": {"actions": [{"action": "backup"}]},
    }
    objects = [policy, claim("data", "tools", phase="Bound", created=ago(days=1))]
    assert outcomes(run("REL-029", objects))["tools"] == (
        Status.PASSING,
        "holds 1 PersistentVolumeClaim; covered by Kasten K10 Policy kasten-io/everything",
    )


def test_rel029_does_not_fail_when_a_served_backup_kind_could_not_be_listed() -> None:
    """Velero absent (group not served) is a failure; Velero served but Schedules forbidden
    to Assay leaves the namespace unjudged."""
    objects = [claim("data", "tools", phase="Bound", created=ago(days=1))]
    check = REGISTRY.get("REL-029")
    unserved = Inventory.from_objects(objects, source=Source.LIVE, missing_groups=["velero.io"])
    [absent] = evaluate(check, unserved)
    assert absent.status is Status.FAILING
    forbidden = Inventory.from_objects(
        [claim("data", "tools", phase="Bound", created=ago(days=1))],
        source=Source.LIVE,
        diagnostics=[Diagnostic("/apis/velero.io/v1/schedules", "cannot list Schedule: HTTP 403")],
    )
    [unknown] = evaluate(check, forbidden)
    assert (unknown.status, unknown.message) == (
        Status.SKIPPED,
        "holds 1 PersistentVolumeClaim; not judged: Velero Schedule could not be listed",
    )
