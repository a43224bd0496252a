"""The Tekton simulator writes PipelineRun/TaskRun status the way Tekton does, readable
through the official client; its auto mode drives every new PipelineRun to an end."""

from __future__ import annotations

from typing import Any

import kubernetes.aio.client as aio
import pytest

from tests.kubeapi import Failure, KubeApiDouble, SimTask, TektonSimulator

from .typed import json_object

GROUP, VERSION = "tekton.dev", "v1"


def pipeline_run(name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "tekton.dev/v1",
        "kind": "PipelineRun",
        "metadata": {"name": name, "labels": {"assay.example.com/workflow": "wf-1", **labels}},
        "spec": {
            "pipelineRef": {
                "resolver": "bundles",
                "params": [{"name": "bundle", "value": "registry.example.com/remediate:1"}],
            },
            "taskRunTemplate": {"serviceAccountName": "assay-runner"},
        },
    }


@pytest.fixture
def custom(kube_aio_client: aio.ApiClient) -> aio.CustomObjectsApi:
    return aio.CustomObjectsApi(kube_aio_client)


async def create_run(custom: aio.CustomObjectsApi, name: str, **labels: str) -> None:
    await custom.create_namespaced_custom_object(
        GROUP, VERSION, "default", "pipelineruns", pipeline_run(name, **labels)
    )


async def read_run(custom: aio.CustomObjectsApi, name: str) -> dict[str, Any]:
    run = json_object(
        await custom.get_namespaced_custom_object(GROUP, VERSION, "default", "pipelineruns", name)
    )
    return run


async def task_runs(custom: aio.CustomObjectsApi, run: str) -> dict[str, dict[str, Any]]:
    listed = json_object(
        await custom.list_namespaced_custom_object(
            GROUP, VERSION, "default", "taskruns", label_selector=f"tekton.dev/pipelineRun={run}"
        )
    )
    return {i["metadata"]["labels"]["tekton.dev/pipelineTask"]: i for i in listed["items"]}


async def test_start_then_succeed(tekton: TektonSimulator, custom: aio.CustomObjectsApi) -> None:
    await create_run(custom, "run-1")
    await tekton.start("default", "run-1", tasks=["fetch"])
    running = (await read_run(custom, "run-1"))["status"]
    assert running["conditions"][0]["status"] == "Unknown"
    assert running["conditions"][0]["reason"] == "Running"
    assert running["startTime"] and "completionTime" not in running
    fetch_running = (await task_runs(custom, "run-1"))["fetch"]["status"]
    assert fetch_running["steps"][0]["running"]["startedAt"]

    await tekton.succeed(
        "default", "run-1", tasks=["fetch", SimTask("remediate", steps=("plan", "apply"))]
    )
    status = (await read_run(custom, "run-1"))["status"]
    [condition] = status["conditions"]
    assert (condition["type"], condition["status"], condition["reason"]) == (
        "Succeeded",
        "True",
        "Succeeded",
    )
    assert status["startTime"] == running["startTime"] and status["completionTime"]
    assert status["childReferences"] == [
        {
            "apiVersion": "tekton.dev/v1",
            "kind": "TaskRun",
            "name": "run-1-fetch",
            "pipelineTaskName": "fetch",
        },
        {
            "apiVersion": "tekton.dev/v1",
            "kind": "TaskRun",
            "name": "run-1-remediate",
            "pipelineTaskName": "remediate",
        },
    ]

    children = await task_runs(custom, "run-1")
    remediate = children["remediate"]
    assert remediate["metadata"]["labels"]["assay.example.com/workflow"] == "wf-1"
    assert remediate["metadata"]["ownerReferences"][0]["kind"] == "PipelineRun"
    assert remediate["spec"]["serviceAccountName"] == "assay-runner"
    assert remediate["status"]["podName"] == "run-1-remediate-pod"
    assert remediate["status"]["conditions"][0]["reason"] == "Succeeded"
    assert [
        (s["name"], s["container"], s["terminated"]["exitCode"], s["terminated"]["reason"])
        for s in remediate["status"]["steps"]
    ] == [
        ("plan", "step-plan", 0, "Completed"),
        ("apply", "step-apply", 0, "Completed"),
    ]


async def test_fail_in_a_step_skips_later_tasks(
    tekton: TektonSimulator, custom: aio.CustomObjectsApi
) -> None:
    await create_run(custom, "run-2")
    await tekton.fail(
        "default",
        "run-2",
        tasks=["fetch", SimTask("remediate", steps=("plan", "apply", "verify")), "report"],
        failed_task="remediate",
        step="apply",
        exit_code=2,
        message="kubectl: forbidden",
    )
    status = (await read_run(custom, "run-2"))["status"]
    [condition] = status["conditions"]
    assert (condition["status"], condition["reason"]) == ("False", "Failed")
    assert condition["message"] == "Tasks Completed: 2 (Failed: 1, Cancelled 0), Skipped: 1"
    assert status["skippedTasks"] == [{"name": "report", "reason": "PipelineRun was stopping"}]
    assert [r["pipelineTaskName"] for r in status["childReferences"]] == ["fetch", "remediate"]

    failed = (await task_runs(custom, "run-2"))["remediate"]["status"]
    assert failed["conditions"][0]["reason"] == "Failed"
    assert failed["conditions"][0]["message"] == '"step-apply" exited with code 2'
    plan, apply = failed["steps"]  # "verify" never ran
    assert plan["terminated"]["reason"] == "Completed"
    assert apply["terminated"] == {
        "exitCode": 2,
        "reason": "Error",
        "message": "kubectl: forbidden",
        "startedAt": apply["terminated"]["startedAt"],
        "finishedAt": apply["terminated"]["finishedAt"],
    }


async def test_oom_and_image_pull_failures(
    tekton: TektonSimulator, custom: aio.CustomObjectsApi
) -> None:
    await create_run(custom, "oom")
    await tekton.fail("default", "oom", reason="OOMKilled")
    [(_, oom)] = (await task_runs(custom, "oom")).items()
    assert oom["status"]["steps"][-1]["terminated"]["exitCode"] == 137
    assert oom["status"]["steps"][-1]["terminated"]["reason"] == "OOMKilled"

    await create_run(custom, "pull")
    await tekton.fail(
        "default",
        "pull",
        failed_task="fetch",
        step="clone",
        reason="ImagePullBackOff",
        message='Back-off pulling image "registry.example.com/git:missing"',
    )
    pulled = (await task_runs(custom, "pull"))["fetch"]["status"]
    assert pulled["conditions"][0]["reason"] == "TaskRunImagePullFailed"
    assert pulled["steps"] == [
        {
            "name": "clone",
            "container": "step-clone",
            "waiting": {
                "reason": "ImagePullBackOff",
                "message": 'Back-off pulling image "registry.example.com/git:missing"',
            },
        },
    ]
    assert (await read_run(custom, "pull"))["status"]["conditions"][0]["reason"] == "Failed"


async def test_timeout_cancels_running_task_runs(
    tekton: TektonSimulator, custom: aio.CustomObjectsApi
) -> None:
    await create_run(custom, "slow")
    await tekton.start("default", "slow", tasks=["long"])
    await tekton.time_out("default", "slow")
    [condition] = (await read_run(custom, "slow"))["status"]["conditions"]
    assert (condition["status"], condition["reason"]) == ("False", "PipelineRunTimeout")
    assert condition["message"] == 'PipelineRun "slow" failed to finish within "1h0m0s"'
    long_run = (await task_runs(custom, "slow"))["long"]["status"]
    assert long_run["conditions"][0]["reason"] == "TaskRunCancelled"


async def test_inline_pipeline_spec_provides_the_default_tasks(
    kube_api: KubeApiDouble, tekton: TektonSimulator
) -> None:
    run = pipeline_run("inline")
    run["spec"] = {
        "pipelineSpec": {
            "tasks": [
                {"name": "lint", "taskSpec": {"steps": [{"name": "ruff"}, {"name": "mypy"}]}},
                {"name": "test", "taskSpec": {"steps": [{"name": "pytest"}]}},
            ]
        }
    }
    kube_api.seed(run)
    await tekton.succeed("default", "inline")
    lint = kube_api.get_object("tekton.dev/v1", "TaskRun", "inline-lint", "default")
    assert lint is not None
    assert [s["name"] for s in lint["status"]["steps"]] == ["ruff", "mypy"]


async def test_auto_mode_drives_every_new_pipeline_run(
    kube_api: KubeApiDouble, tekton: TektonSimulator, custom: aio.CustomObjectsApi
) -> None:
    def decide(run: dict[str, Any]) -> Failure | None:
        if run["metadata"]["labels"].get("outcome") == "fail":
            return Failure(failed_task="run", step="run", exit_code=3)
        return None

    await create_run(custom, "before-auto")  # already there when the driver starts
    async with tekton.auto(delay=0.01, decide=decide) as driver:
        for i in range(12):
            await create_run(custom, f"run-{i}", outcome="fail" if i % 4 == 0 else "ok")
        cancelled = pipeline_run("cancelled")
        cancelled["spec"]["status"] = "Cancelled"
        await custom.create_namespaced_custom_object(
            GROUP, VERSION, "default", "pipelineruns", cancelled
        )
        done = await driver.wait_completed(14, within=5)

    reasons = {c.name: c.reason for c in done}
    assert reasons["before-auto"] == "Succeeded" and reasons["cancelled"] == "Cancelled"
    assert [reasons[f"run-{i}"] for i in range(4)] == [
        "Failed",
        "Succeeded",
        "Succeeded",
        "Succeeded",
    ]
    final = await read_run(custom, "run-4")
    assert final["status"]["conditions"][0]["reason"] == "Failed"
    failed_step = kube_api.get_object("tekton.dev/v1", "TaskRun", "run-4-run", "default")
    assert failed_step is not None
    assert failed_step["status"]["steps"][0]["terminated"]["exitCode"] == 3
