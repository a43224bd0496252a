"""``WorkflowExecutionService`` servicer over the workflow controller and the audit store.

Every namespace and name of a request is checked here to be a DNS label or subdomain
(INVALID_ARGUMENT naming the field) before it can reach the Kubernetes client, which
escapes it as one path segment besides. Create applies the request policy (the bundle's
registry and the ServiceAccount must be allowed) and validates the spec as the CRD schema
does (the controller's validator, field paths like ``spec.targetResource``); Get/List read
the API server; Watch follows the controller's phase-change fan-out; ListAuditEvents reads
storage in a worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import grpc

from assay.server.api import workflow_convert as wconv
from assay.server.api.convert import timestamp
from assay.server.api.streams import until_shutdown
from assay.server.api.validation import Validator, shown
from assay.server.auth.policy import RequestPolicy
from assay.server.auth.principal import Via, current_principal
from assay.server.core.errors import FailedPrecondition
from assay.server.kube.names import is_dns_label, is_dns_subdomain
from assay.server.storage.repository import Repository
from assay.server.workflow.audit import AuditQuery
from assay.server.workflow.controller import WorkflowController
from assay.server.workflow.model import phase_of
from assay.v1 import workflow_pb2 as wpb
from assay.v1 import workflow_pb2_grpc as wpb_grpc


def _requester() -> str | None:
    """The authenticated caller's user name (None when authentication is off)."""
    principal = current_principal()
    if principal is None or principal.via is Via.OPEN:
        return None
    return principal.user


def next_offset(offset: int, returned: int, total: int) -> int | None:
    end = offset + returned
    return end if returned and end < total else None


@dataclass
class WorkflowServicer(wpb_grpc.WorkflowExecutionServiceServicer):
    repository: Repository
    controller: WorkflowController | None
    default_namespace: str
    shutdown: asyncio.Event
    policy: RequestPolicy = field(default_factory=RequestPolicy)

    def _require_controller(self) -> WorkflowController:
        if self.controller is None:
            raise FailedPrecondition(
                "workflow execution is not enabled on this server "
                "(start it with --workflows or ASSAY_WORKFLOWS=true)"
            )
        return self.controller

    def _namespace(self, v: Validator, namespace: str, *, default: str | None) -> str | None:
        if not namespace:
            return default
        if not is_dns_label(namespace):
            v.fail("namespace", f"{shown(namespace)} is not a namespace name (a DNS label)")
        return namespace

    def _name(self, v: Validator, name: str, *, field: str = "name", required: bool) -> str:
        if not name:
            if required:
                v.fail(field, "is required")
            return name
        if not is_dns_subdomain(name):
            v.fail(field, f"{shown(name)} is not a resource name (a DNS subdomain)")
        return name

    async def Create(
        self, request: wpb.CreateRequest, context: grpc.aio.ServicerContext
    ) -> wpb.CreateResponse:
        v = Validator()
        namespace = self._namespace(v, request.namespace, default=self.default_namespace)
        self._name(v, request.name, required=False)
        v.done()
        controller = self._require_controller()
        spec = request.spec
        self.policy.check_bundle(
            spec.workflow_ref.container_image, field="spec.workflowRef.containerImage"
        )
        self.policy.check_service_account(
            spec.execution_config.service_account_name,
            field="spec.executionConfig.serviceAccountName",
        )
        created = await controller.create(
            namespace or self.default_namespace,
            wconv.spec_to_dict(request.spec),
            name=request.name or None,
            labels=dict(request.labels) or None,
            requested_by=_requester(),
        )
        return wpb.CreateResponse(execution=wconv.execution(created))

    async def Get(
        self, request: wpb.GetRequest, context: grpc.aio.ServicerContext
    ) -> wpb.GetResponse:
        v = Validator()
        namespace = self._namespace(v, request.namespace, default=self.default_namespace)
        name = self._name(v, request.name, required=True)
        v.done()
        found = await self._require_controller().get(namespace or self.default_namespace, name)
        return wpb.GetResponse(execution=wconv.execution(found))

    async def List(
        self, request: wpb.ListRequest, context: grpc.aio.ServicerContext
    ) -> wpb.ListResponse:
        v = Validator()
        namespace = self._namespace(v, request.namespace, default=None)
        phases = v.enums("phases", request.phases, wconv.PHASES_BY_VALUE)
        limit = v.limit(request)
        offset = v.offset(request.offset)
        v.done()
        listed = await self._require_controller().list(
            namespace=namespace,
            target=request.target_resource or None,
            workflow_id=request.workflow_id or None,
        )
        if phases:
            listed = [o for o in listed if phase_of(o) in phases]
        page = listed[offset : offset + limit]
        return wpb.ListResponse(
            executions=[wconv.execution(o) for o in page],
            total_count=len(listed),
            next_offset=next_offset(offset, len(page), len(listed)),
        )

    async def Watch(
        self, request: wpb.WatchRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[wpb.WatchResponse]:
        v = Validator()
        namespace = self._namespace(v, request.namespace, default=None)
        self._name(v, request.name, required=False)
        if request.name and not namespace:
            v.fail("namespace", "is required when name is set")
        v.done()
        changes = self._require_controller().watch(namespace=namespace, name=request.name or None)
        async for change in until_shutdown(changes, self.shutdown):
            previous = (
                wconv.PHASES[change.previous_phase]
                if change.previous_phase is not None
                else wpb.WORKFLOW_PHASE_UNSPECIFIED
            )
            yield wpb.WatchResponse(
                execution=wconv.execution(change.object),
                previous_phase=previous,
                observed_at=timestamp(datetime.now(UTC)),
            )

    async def ListAuditEvents(
        self, request: wpb.ListAuditEventsRequest, context: grpc.aio.ServicerContext
    ) -> wpb.ListAuditEventsResponse:
        v = Validator()
        namespace = self._namespace(v, request.namespace, default=None)
        self._name(v, request.execution_name, field="execution_name", required=False)
        event_type = (
            v.enum("event_type", request.event_type, wconv.AUDIT_TYPES_BY_VALUE, default=None)
            if request.event_type
            else None
        )
        query = AuditQuery(
            execution_name=v.identifier("execution_name", request.execution_name) or None,
            execution_namespace=namespace,
            target=v.identifier("target_resource", request.target_resource, max_len=512) or None,
            event_type=event_type,
            since=v.since(request),
            limit=v.page_size(request.page_size),
            page_token=v.page_token(request.page_token),
            include_total=request.include_total,
        )
        v.done()
        return await asyncio.to_thread(self._list_audit_events, query)

    def _list_audit_events(self, query: AuditQuery) -> wpb.ListAuditEventsResponse:
        page = self.repository.list_audit_events(query)
        return wpb.ListAuditEventsResponse(
            events=[wconv.audit_event(e) for e in page.items],
            next_page_token=page.next_page_token,
            total_size=page.total,
        )
