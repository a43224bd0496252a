"""Every RPC the server serves, classified as a read or a write, and the open services.

The authentication interceptor looks each call up here: a method of an open service
(health, reflection) needs no credentials; any other method needs an authenticated caller,
and a write also a writer group (:class:`~assay.server.auth.access.AccessRules`). A method
that is in neither table is refused, and a unit test requires the table to name every
method of every service in ``assay.v1``, so a new RPC is classified the day it is added.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType

from google.protobuf.descriptor import ServiceDescriptor
from grpc_health.v1 import health
from grpc_reflection.v1alpha import reflection

from assay.server.auth.access import Access
from assay.v1 import assessment_pb2, workflow_pb2

_ASSESSMENTS = "/assay.v1.AssessmentService/"
_WORKFLOWS = "/assay.v1.WorkflowExecutionService/"

OPEN_SERVICES = frozenset(
    {health.SERVICE_NAME, reflection.SERVICE_NAME, "grpc.reflection.v1.ServerReflection"}
)
"""Served to anyone: health for probes and load balancers, reflection for tools."""

METHOD_ACCESS: Mapping[str, Access] = MappingProxyType(
    {
        _ASSESSMENTS + "StartRun": Access.WRITE,
        _ASSESSMENTS + "StartManifestRun": Access.WRITE,
        _ASSESSMENTS + "CancelRun": Access.WRITE,
        _ASSESSMENTS + "GetRun": Access.READ,
        _ASSESSMENTS + "ListRuns": Access.READ,
        _ASSESSMENTS + "WatchRun": Access.READ,
        _ASSESSMENTS + "ListChecks": Access.READ,
        _ASSESSMENTS + "ListAssessments": Access.READ,
        _ASSESSMENTS + "GetAssessment": Access.READ,
        _ASSESSMENTS + "GetSummary": Access.READ,
        _ASSESSMENTS + "GetHistory": Access.READ,
        _WORKFLOWS + "Create": Access.WRITE,
        _WORKFLOWS + "Get": Access.READ,
        _WORKFLOWS + "List": Access.READ,
        _WORKFLOWS + "Watch": Access.READ,
        _WORKFLOWS + "ListAuditEvents": Access.READ,
    }
)

SERVICE_DESCRIPTORS: tuple[ServiceDescriptor, ...] = (
    *assessment_pb2.DESCRIPTOR.services_by_name.values(),
    *workflow_pb2.DESCRIPTOR.services_by_name.values(),
)


def served_methods() -> Iterator[str]:
    """``/package.Service/Method`` of every RPC of the Assay services."""
    for service in SERVICE_DESCRIPTORS:
        for method in service.methods:
            yield f"/{service.full_name}/{method.name}"


def service_of(method: str) -> str:
    """``package.Service`` of ``/package.Service/Method``."""
    return method.lstrip("/").partition("/")[0]
