"""A Kubernetes API server test double (aiohttp) for tests using the official client.

Start with the fixtures in `tests.kubeapi.fixtures` (`kube_api`, `kube_api_thread`,
`kube_aio_client`, `kube_sync_client`, `tekton`) or directly:

    async with KubeApiDouble() as api:
        async with kubernetes.aio.client.ApiClient(api.aio_configuration()) as client:
            ...

See `server.py` for the public API and the documented simplifications.
"""

from .faults import DoubleFailed, Injection, InternalError, RecordedRequest
from .jsonutil import JsonObject
from .resources import ResourceType
from .server import KubeApiDouble
from .status import ApiError
from .tekton import AutoDriver, Completion, Failure, SimTask, TektonSimulator, tekton_crds

__all__ = [
    "ApiError",
    "AutoDriver",
    "Completion",
    "DoubleFailed",
    "Failure",
    "Injection",
    "InternalError",
    "JsonObject",
    "KubeApiDouble",
    "RecordedRequest",
    "ResourceType",
    "SimTask",
    "TektonSimulator",
    "tekton_crds",
]
