"""Resource collections and the URL paths that address them, built from escaped segments.

Every caller of :class:`~assay.server.kube.client.KubeClient` names what it wants with a
:class:`Resource` plus a namespace, a name and maybe a subresource. Any of those may come
from outside (a gRPC request, an object's annotation), so each becomes exactly one path
segment: percent-escaped with nothing kept safe, and refused when it is empty, ``.`` or
``..`` (segments a URL normaliser collapses) or contains ``/`` or ``%`` (which the API
server decodes before it splits the path), as Kubernetes itself refuses such names. No
value can make a request reach another URL.

The resources the server itself reads or writes are declared here; the workflow package
declares its custom resources next to its model.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from assay.server.kube.errors import KubePathError

_DOT_SEGMENTS = frozenset({"", ".", ".."})


def segment(value: str, *, what: str = "path segment") -> str:
    """``value`` as one escaped URL path segment; :class:`KubePathError` if it cannot be one."""
    if value in _DOT_SEGMENTS:
        raise KubePathError(f"{what} {value!r} cannot be used in a URL path")
    if "/" in value or "%" in value:
        raise KubePathError(f"{what} {value!r} may not contain '/' or '%'")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise KubePathError(f"{what} {value!r} contains a control character")
    return quote(value, safe="")


@dataclass(frozen=True, slots=True)
class Resource:
    """A collection ``group/version/plural``; ``group`` is empty for the core API."""

    group: str
    version: str
    plural: str
    namespaced: bool = True
    kind: str = ""

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def api_version(self) -> str:
        """The ``apiVersion`` of the collection's objects (same as :attr:`group_version`)."""
        return self.group_version

    def path(
        self, namespace: str | None = None, name: str | None = None, subresource: str = ""
    ) -> str:
        """The URL path of the collection (across namespaces when ``namespace`` is None or
        the resource is cluster-scoped), of one object, or of one object's subresource."""
        base = f"/apis/{segment(self.group, what='group')}" if self.group else "/api"
        base += f"/{segment(self.version, what='version')}"
        if self.namespaced and namespace is not None:
            base += f"/namespaces/{segment(namespace, what='namespace')}"
        base += f"/{segment(self.plural, what='resource')}"
        if name is not None:
            base += f"/{segment(name, what='name')}"
            if subresource:
                base += f"/{segment(subresource, what='subresource')}"
        elif subresource:
            raise KubePathError(f"subresource {subresource!r} needs an object name")
        return base


NAMESPACES = Resource("", "v1", "namespaces", namespaced=False, kind="Namespace")
NODES = Resource("", "v1", "nodes", namespaced=False, kind="Node")
PODS = Resource("", "v1", "pods", kind="Pod")
EVENTS = Resource("", "v1", "events", kind="Event")
PERSISTENT_VOLUME_CLAIMS = Resource(
    "", "v1", "persistentvolumeclaims", kind="PersistentVolumeClaim"
)
PERSISTENT_VOLUMES = Resource(
    "", "v1", "persistentvolumes", namespaced=False, kind="PersistentVolume"
)
ENDPOINT_SLICES = Resource("discovery.k8s.io", "v1", "endpointslices", kind="EndpointSlice")
JOBS = Resource("batch", "v1", "jobs", kind="Job")
LEASES = Resource("coordination.k8s.io", "v1", "leases", kind="Lease")
POD_METRICS = Resource("metrics.k8s.io", "v1beta1", "pods", kind="PodMetrics")
NODE_METRICS = Resource("metrics.k8s.io", "v1beta1", "nodes", namespaced=False, kind="NodeMetrics")
