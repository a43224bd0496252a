"""Tekton Pipelines simulator: drives tekton.dev/v1 PipelineRuns the way the controller does.

Used by tests (and the 500-PipelineRun benchmark) of code that creates PipelineRuns and
reads their outcome. There is no real Tekton in the test cluster, so `TektonSimulator`
writes the status a real controller would: `status.conditions` (type Succeeded with
True/False/Unknown and reasons Running, Succeeded, Failed, PipelineRunTimeout, Cancelled),
`startTime`, `completionTime`, `childReferences`, and child TaskRuns (labelled
`tekton.dev/pipelineRun` / `tekton.dev/pipelineTask`, owned by the PipelineRun) whose
status carries `podName` and per-step `terminated` or `waiting` states.

Writes go through `Operations` (the same code path as HTTP requests), so watches, events
and resourceVersions behave as if a controller had made them over the API.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Literal

from .jsonutil import JsonObject, now_rfc3339
from .resources import ResourceType
from .status import ApiError
from .store import StoredEvent
from .tekton_schema import PIPELINE_RUN_SCHEMA, TASK_RUN_SCHEMA

if TYPE_CHECKING:
    from .server import KubeApiDouble

TEKTON_GROUP = "tekton.dev"
TEKTON_API_VERSION = "tekton.dev/v1"
PIPELINE_RUN_LABEL = "tekton.dev/pipelineRun"
PIPELINE_TASK_LABEL = "tekton.dev/pipelineTask"
CANCEL_SPEC_STATUSES = frozenset({"Cancelled", "CancelledRunFinally", "StoppedRunFinally"})

StepFailure = Literal["Error", "OOMKilled", "ImagePullBackOff"]


def _crd(kind: str, plural: str, short_names: list[str], schema: JsonObject) -> JsonObject:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.{TEKTON_GROUP}",
            "labels": {"app.kubernetes.io/part-of": "tekton-pipelines"},
        },
        "spec": {
            "group": TEKTON_GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": short_names,
                "categories": ["tekton", "tekton-pipelines"],
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": copy.deepcopy(schema)},
                }
            ],
        },
    }


def tekton_crds() -> list[JsonObject]:
    """The PipelineRun and TaskRun CRDs (tekton.dev/v1, status subresource, structural
    schemas that prune and validate like Tekton's)."""
    return [
        _crd("PipelineRun", "pipelineruns", ["pr", "prs"], PIPELINE_RUN_SCHEMA),
        _crd("TaskRun", "taskruns", ["tr", "trs"], TASK_RUN_SCHEMA),
    ]


@dataclass(frozen=True)
class SimTask:
    """A pipeline task as the simulator runs it: its name and its steps, in order."""

    name: str
    steps: tuple[str, ...] = ("run",)


TaskLike = str | SimTask


@dataclass(frozen=True)
class Failure:
    """How a PipelineRun fails; the arguments of `TektonSimulator.fail`."""

    failed_task: str | None = None  # default: the last task
    step: str | None = None  # default: the failed task's last step
    exit_code: int | None = None  # default: 137 for OOMKilled, else 1
    reason: StepFailure = "Error"
    message: str = ""


def child_name(parent: str, suffix: str) -> str:
    """`<parent>-<suffix>`, shortened with a hash beyond 63 characters like Tekton does."""
    name = f"{parent}-{suffix}"
    if len(name) <= 63:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"{name[:52]}-{digest}"


def _condition(status: str, reason: str, message: str) -> JsonObject:
    return {
        "type": "Succeeded",
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": now_rfc3339(),
    }


def _summary(completed: int, failed: int, skipped: int, incomplete: int = 0) -> str:
    text = f"Tasks Completed: {completed} (Failed: {failed}, Cancelled 0)"
    if incomplete:
        text += f", Incomplete: {incomplete}"
    return f"{text}, Skipped: {skipped}"


def _is_done(pipeline_run: JsonObject) -> bool:
    return bool((pipeline_run.get("status") or {}).get("completionTime"))


class TektonSimulator:
    """Writes PipelineRun/TaskRun status like the Tekton controller. Register the CRDs
    first (`api.register_tekton()`; the `tekton` fixture does both)."""

    def __init__(self, api: KubeApiDouble) -> None:
        self.api = api
        self.pipeline_runs = self._resource("pipelineruns")
        self.task_runs = self._resource("taskruns")

    def _resource(self, plural: str) -> ResourceType:
        found = self.api.registry.lookup(TEKTON_GROUP, "v1", plural)
        if found is None:
            raise RuntimeError("tekton.dev/v1 is not served: call api.register_tekton() first")
        return found

    # -- driving one PipelineRun -----------------------------------------------------------

    async def start(
        self, namespace: str, name: str, *, tasks: Sequence[TaskLike] = ()
    ) -> JsonObject:
        """Mark the PipelineRun Running (Succeeded=Unknown) with `tasks` running."""
        with self.api.store.lock:  # read-modify-write: no other writer between
            run = self.get_pipeline_run(namespace, name)
            status = self._base_status(run)
            running = [self._task(t) for t in tasks]
            planned = self._plan(run, tasks or None)
            references = [self._run_task(run, task, "running") for task in running]
            status["childReferences"] = self._merge_references(status, references)
            status["conditions"] = [
                _condition("Unknown", "Running", _summary(0, 0, 0, incomplete=len(planned)))
            ]
            return self._write_pipeline_run(run, status)

    async def succeed(
        self, namespace: str, name: str, *, tasks: Sequence[TaskLike] | None = None
    ) -> JsonObject:
        """Run every task to completion and mark the PipelineRun Succeeded."""
        with self.api.store.lock:  # read-modify-write: no other writer between
            run = self.get_pipeline_run(namespace, name)
            plan = self._plan(run, tasks)
            status = self._base_status(run)
            references = [self._run_task(run, task, "succeeded") for task in plan]
            status["childReferences"] = self._merge_references(status, references)
            status["conditions"] = [_condition("True", "Succeeded", _summary(len(plan), 0, 0))]
            status["completionTime"] = now_rfc3339()
            return self._write_pipeline_run(run, status)

    async def fail(
        self,
        namespace: str,
        name: str,
        *,
        failed_task: str | None = None,
        step: str | None = None,
        exit_code: int | None = None,
        reason: StepFailure = "Error",
        message: str = "",
        tasks: Sequence[TaskLike] | None = None,
    ) -> JsonObject:
        """Tasks before `failed_task` succeed, it fails in `step` (exit code or image pull),
        later tasks are skipped, and the PipelineRun ends Failed."""
        with self.api.store.lock:  # read-modify-write: no other writer between
            run = self.get_pipeline_run(namespace, name)
            plan = self._plan(run, tasks)
            target = failed_task or plan[-1].name
            if target not in [t.name for t in plan]:
                plan.append(SimTask(target, (step,) if step else ("run",)))
            index = [t.name for t in plan].index(target)
            failing = plan[index]
            if step is not None and step not in failing.steps:
                failing = SimTask(failing.name, (*failing.steps, step))
            failure = Failure(target, step or failing.steps[-1], exit_code, reason, message)
            status = self._base_status(run)
            references = [self._run_task(run, task, "succeeded") for task in plan[:index]]
            references.append(self._run_task(run, failing, "failed", failure))
            skipped = plan[index + 1 :]
            status["childReferences"] = self._merge_references(status, references)
            status["conditions"] = [
                _condition("False", "Failed", _summary(index + 1, 1, len(skipped)))
            ]
            if skipped:
                status["skippedTasks"] = [
                    {"name": t.name, "reason": "PipelineRun was stopping"} for t in skipped
                ]
            status["completionTime"] = now_rfc3339()
            return self._write_pipeline_run(run, status)

    async def time_out(self, namespace: str, name: str, *, duration: str = "1h0m0s") -> JsonObject:
        """End the PipelineRun with PipelineRunTimeout; unfinished TaskRuns are cancelled."""
        with self.api.store.lock:  # read-modify-write: no other writer between
            run = self.get_pipeline_run(namespace, name)
            status = self._base_status(run)
            self._cancel_children(
                run, "TaskRun cancelled as the PipelineRun it belongs to has timed out."
            )
            status["conditions"] = [
                _condition(
                    "False",
                    "PipelineRunTimeout",
                    f'PipelineRun "{name}" failed to finish within "{duration}"',
                )
            ]
            status["completionTime"] = now_rfc3339()
            return self._write_pipeline_run(run, status)

    async def cancel(self, namespace: str, name: str) -> JsonObject:
        """What Tekton does once spec.status is "Cancelled": everything stops, Cancelled."""
        with self.api.store.lock:  # read-modify-write: no other writer between
            run = self.get_pipeline_run(namespace, name)
            status = self._base_status(run)
            self._cancel_children(
                run, "TaskRun cancelled as the PipelineRun it belongs to has been cancelled."
            )
            status["conditions"] = [
                _condition("False", "Cancelled", f'PipelineRun "{name}" was cancelled')
            ]
            status["completionTime"] = now_rfc3339()
            return self._write_pipeline_run(run, status)

    def auto(
        self,
        *,
        delay: float = 0.05,
        decide: Callable[[JsonObject], Failure | None] | None = None,
    ) -> AutoDriver:
        """A background driver (async context manager): every PipelineRun that appears is
        started at once and, `delay` seconds later, succeeded, or failed as `decide`
        (called with the PipelineRun) says. Cancelled PipelineRuns are cancelled."""
        return AutoDriver(self, delay, decide)

    # -- helpers ---------------------------------------------------------------------------

    def get_pipeline_run(self, namespace: str, name: str) -> JsonObject:
        return self.api.ops.get(self.pipeline_runs, namespace, name)

    @staticmethod
    def _task(task: TaskLike) -> SimTask:
        return SimTask(task) if isinstance(task, str) else task

    def _plan(self, run: JsonObject, tasks: Sequence[TaskLike] | None) -> list[SimTask]:
        """The given tasks; else those of an inline spec.pipelineSpec; else one "run"."""
        if tasks is not None:
            return [self._task(t) for t in tasks] or [SimTask("run")]
        inline = ((run.get("spec") or {}).get("pipelineSpec") or {}).get("tasks") or []
        plan = []
        for task in inline:
            steps = ((task.get("taskSpec") or {}).get("steps")) or []
            names = tuple(str(s.get("name") or f"unnamed-{i}") for i, s in enumerate(steps))
            plan.append(SimTask(str(task["name"]), names or ("run",)))
        return plan or [SimTask("run")]

    @staticmethod
    def _base_status(run: JsonObject) -> JsonObject:
        status = dict(run.get("status") or {})
        status.setdefault("startTime", now_rfc3339())
        return status

    @staticmethod
    def _merge_references(status: JsonObject, new: list[JsonObject]) -> list[JsonObject]:
        by_name = {ref["name"]: ref for ref in status.get("childReferences") or []}
        by_name.update({ref["name"]: ref for ref in new})
        return list(by_name.values())

    def _write_pipeline_run(self, run: JsonObject, status: JsonObject) -> JsonObject:
        return self._write_status(self.pipeline_runs, run, status)

    def _write_status(
        self, resource: ResourceType, obj: JsonObject, status: JsonObject
    ) -> JsonObject:
        """PUT .../status conditional on the version read, as a controller writes it."""
        meta = obj["metadata"]
        body = {
            "metadata": {"name": meta["name"], "resourceVersion": meta["resourceVersion"]},
            "status": status,
        }
        return self.api.ops.update(
            resource, meta["namespace"], meta["name"], body, subresource="status"
        )

    def _run_task(
        self,
        run: JsonObject,
        task: SimTask,
        outcome: Literal["running", "succeeded", "failed"],
        failure: Failure | None = None,
    ) -> JsonObject:
        """Create (or reuse) the TaskRun for task, write its status; its child reference."""
        task_run = self._ensure_task_run(run, task)
        meta = task_run["metadata"]
        status = dict(task_run.get("status") or {})
        started = status.setdefault("startTime", now_rfc3339())
        status["podName"] = child_name(meta["name"], "pod")
        now = now_rfc3339()
        if outcome == "running":
            status["steps"] = [
                {"name": s, "container": f"step-{s}", "running": {"startedAt": started}}
                for s in task.steps
            ]
            status["conditions"] = [
                _condition(
                    "Unknown", "Running", "Not all Steps in the Task have finished executing"
                )
            ]
        elif outcome == "succeeded":
            status["steps"] = [_terminated(s, 0, "Completed", started, now) for s in task.steps]
            status["conditions"] = [
                _condition("True", "Succeeded", "All Steps have completed executing")
            ]
            status["completionTime"] = now
        else:
            assert failure is not None and failure.step is not None
            status["steps"], status["conditions"] = _failed_steps(
                meta["name"], task, failure, started, now
            )
            status["completionTime"] = now
        self._write_status(self.task_runs, task_run, status)
        return {
            "apiVersion": TEKTON_API_VERSION,
            "kind": "TaskRun",
            "name": meta["name"],
            "pipelineTaskName": task.name,
        }

    def _ensure_task_run(self, run: JsonObject, task: SimTask) -> JsonObject:
        meta = run["metadata"]
        namespace, name = meta["namespace"], child_name(meta["name"], task.name)
        try:
            return self.api.ops.get(self.task_runs, namespace, name)
        except ApiError as error:
            if error.code != 404:
                raise
        labels = {
            **(meta.get("labels") or {}),  # Tekton propagates PipelineRun labels
            PIPELINE_RUN_LABEL: meta["name"],
            PIPELINE_TASK_LABEL: task.name,
            "tekton.dev/memberOf": "tasks",
            "app.kubernetes.io/managed-by": "tekton-pipelines",
        }
        pipeline_ref = (run.get("spec") or {}).get("pipelineRef") or {}
        if pipeline_ref.get("name"):
            labels["tekton.dev/pipeline"] = pipeline_ref["name"]
        template = (run.get("spec") or {}).get("taskRunTemplate") or {}
        body = {
            "apiVersion": TEKTON_API_VERSION,
            "kind": "TaskRun",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": labels,
                "ownerReferences": [
                    {
                        "apiVersion": TEKTON_API_VERSION,
                        "kind": "PipelineRun",
                        "name": meta["name"],
                        "uid": meta["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {
                "serviceAccountName": template.get("serviceAccountName", "default"),
                "timeout": "1h0m0s",
            },
        }
        return self.api.ops.create(self.task_runs, namespace, body)

    def _cancel_children(self, run: JsonObject, message: str) -> None:
        meta = run["metadata"]
        for task_run in self.api.list_objects(
            TEKTON_API_VERSION,
            "TaskRun",
            meta["namespace"],
            label_selector=f"{PIPELINE_RUN_LABEL}={meta['name']}",
        ):
            status = dict(task_run.get("status") or {})
            if status.get("completionTime"):
                continue
            status["conditions"] = [_condition("False", "TaskRunCancelled", message)]
            status["completionTime"] = now_rfc3339()
            self._write_status(self.task_runs, task_run, status)


def _terminated(
    step: str, exit_code: int, reason: str, started: str, finished: str, message: str = ""
) -> JsonObject:
    terminated: JsonObject = {
        "exitCode": exit_code,
        "reason": reason,
        "startedAt": started,
        "finishedAt": finished,
    }
    if message:
        terminated["message"] = message
    return {"name": step, "container": f"step-{step}", "terminated": terminated}


def _failed_steps(
    task_run: str, task: SimTask, failure: Failure, started: str, now: str
) -> tuple[list[JsonObject], list[JsonObject]]:
    """Steps up to the failing one (later steps never ran) and the TaskRun condition."""
    assert failure.step is not None
    position = task.steps.index(failure.step)
    steps = [_terminated(s, 0, "Completed", started, now) for s in task.steps[:position]]
    if failure.reason == "ImagePullBackOff":
        detail = failure.message or f'Back-off pulling image for step "{failure.step}"'
        steps.append(
            {
                "name": failure.step,
                "container": f"step-{failure.step}",
                "waiting": {"reason": "ImagePullBackOff", "message": detail},
            }
        )
        condition = _condition(
            "False",
            "TaskRunImagePullFailed",
            f'the step "{failure.step}" in TaskRun "{task_run}" failed to pull the image. '
            f'The pod errored with the message: "{detail}"',
        )
        return steps, [condition]
    exit_code = failure.exit_code
    if exit_code is None:
        exit_code = 137 if failure.reason == "OOMKilled" else 1
    steps.append(
        _terminated(failure.step, exit_code, failure.reason, started, now, failure.message)
    )
    condition = _condition("False", "Failed", f'"step-{failure.step}" exited with code {exit_code}')
    return steps, [condition]


@dataclass(frozen=True)
class Completion:
    namespace: str
    name: str
    reason: str  # the Succeeded condition's reason: Succeeded, Failed, Cancelled


class AutoDriver:
    """Background PipelineRun driver returned by `TektonSimulator.auto()`; use it as an
    async context manager. `completed` lists the runs it finished, in order."""

    def __init__(
        self,
        sim: TektonSimulator,
        delay: float,
        decide: Callable[[JsonObject], Failure | None] | None,
    ) -> None:
        self.sim = sim
        self.delay = delay
        self.decide = decide
        self.completed: list[Completion] = []
        self.errors: list[BaseException] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._progress = asyncio.Event()
        self._main: asyncio.Task[None] | None = None

    async def __aenter__(self) -> AutoDriver:
        ready = asyncio.Event()
        self._main = asyncio.create_task(self._run(ready), name="tekton-auto")
        await ready.wait()  # subscribed: nothing created after this is missed
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        pending = [t for t in (self._main, *self._tasks) if t is not None]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if self.errors and exc is None:
            raise self.errors[0]

    async def wait_completed(self, count: int, *, within: float = 30.0) -> list[Completion]:
        """Wait until at least `count` PipelineRuns were driven to an end."""
        async with asyncio.timeout(within):
            while len(self.completed) < count:
                if self.errors:
                    raise self.errors[0]
                self._progress.clear()
                await self._progress.wait()
        return list(self.completed)

    async def _run(self, ready: asyncio.Event) -> None:
        api, resource = self.sim.api, self.sim.pipeline_runs
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

        def on_event(event: StoredEvent) -> None:
            if event.key != resource.storage_key or event.type == "DELETED":
                return
            if _is_done(event.object):
                return
            cancelled = (event.object.get("spec") or {}).get("status") in CANCEL_SPEC_STATUSES
            if event.type == "ADDED" or cancelled:
                meta = event.object["metadata"]
                loop.call_soon_threadsafe(queue.put_nowait, (meta["namespace"], meta["name"]))

        with api.store.lock:
            for run in api.ops.list_shared(resource, None)[0]:
                if not _is_done(run):
                    queue.put_nowait((run["metadata"]["namespace"], run["metadata"]["name"]))
            token = api.store.subscribe(on_event)
        ready.set()
        try:
            while True:
                namespace, name = await queue.get()
                task = asyncio.create_task(self._drive(namespace, name))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        finally:
            api.store.unsubscribe(token)

    async def _drive(self, namespace: str, name: str) -> None:
        sim = self.sim
        try:
            run = sim.get_pipeline_run(namespace, name)
            if _is_done(run):
                return
            if (run.get("spec") or {}).get("status") in CANCEL_SPEC_STATUSES:
                final = await sim.cancel(namespace, name)
            else:
                if not (run.get("status") or {}).get("conditions"):
                    await sim.start(namespace, name)
                await asyncio.sleep(self.delay)
                run = sim.get_pipeline_run(namespace, name)
                if _is_done(run):
                    return  # a cancellation got there first
                decision = self.decide(run) if self.decide is not None else None
                if decision is None:
                    final = await sim.succeed(namespace, name)
                else:
                    final = await sim.fail(
                        namespace,
                        name,
                        failed_task=decision.failed_task,
                        step=decision.step,
                        exit_code=decision.exit_code,
                        reason=decision.reason,
                        message=decision.message,
                    )
        except ApiError as error:
            if error.code == 404:
                return  # deleted while running: nothing left to drive
            self.errors.append(error)
        except Exception as error:  # surfaced by wait_completed / __aexit__
            self.errors.append(error)
        else:
            reason = final["status"]["conditions"][0]["reason"]
            self.completed.append(Completion(namespace, name, reason))
        self._progress.set()
