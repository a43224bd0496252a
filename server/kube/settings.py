"""Settings of the Kubernetes client and of the controller plumbing built on it.

:class:`KubeSettings` is the ``kube`` group of the server settings (``ASSAY_KUBE_*``);
:class:`BackoffSettings` and :class:`LeaderElectionSettings` are nested by the components
that run informers, work queues and elections (the workflow controller). Field metadata
follows the convention of ``server/settings.py``: ``help`` for every field, bounds as
``min``/``max``/``gt``, and ``problems()`` for rules that span fields.
"""

from __future__ import annotations

import os
import random
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

from assay.server.kube.names import is_dns_label, is_dns_subdomain


@dataclass(frozen=True)
class KubeSettings:
    context: str = field(
        default="",
        metadata={
            "help": "kubeconfig context for the cluster (empty: the current context).",
            "flags": ("--context",),
        },
    )
    kubeconfig: str = field(
        default="",
        metadata={
            "help": "kubeconfig file (empty: $KUBECONFIG, ~/.kube/config, else in-cluster).",
            "env": "ASSAY_KUBECONFIG",
        },
    )
    request_timeout_s: float = field(
        default=60.0, metadata={"help": "Seconds one API request may take.", "gt": 0}
    )
    page_size: int = field(
        default=500,
        metadata={"help": "Objects per list page (limit/continue).", "min": 1, "max": 10_000},
    )
    list_restarts: int = field(
        default=3,
        metadata={
            "help": "Times a list starts over when its continue token expires (410).",
            "min": 0,
            "max": 100,
        },
    )
    conflict_retries: int = field(
        default=8,
        metadata={
            "help": "Attempts of a read-modify-write that meets 409 Conflict before giving up.",
            "min": 1,
            "max": 100,
        },
    )

    def problems(self) -> Iterator[tuple[str, str]]:
        if self.kubeconfig and not os.path.isfile(self.kubeconfig):
            yield "kubeconfig", f"{self.kubeconfig!r} is not a file"


@dataclass(frozen=True)
class BackoffSettings:
    """Exponential backoff with jitter: ``initial * factor**(n-1)``, capped, then jittered.

    A list or watch that failed because the API server could not answer also probes the
    server's health every ``probe_interval_s`` while it waits, and retries as soon as the
    server answers again (``kube/recovery.py``), so the long delays never outlast an outage.
    """

    initial_s: float = field(
        default=0.2, metadata={"help": "First retry delay, in seconds.", "gt": 0}
    )
    max_s: float = field(default=30.0, metadata={"help": "Longest retry delay.", "gt": 0})
    factor: float = field(
        default=2.0, metadata={"help": "Growth of the delay per failure.", "min": 1, "max": 10}
    )
    probe_interval_s: float = field(
        default=1.0,
        metadata={
            "help": "Seconds between health probes (GET /readyz) while a watch waits out an "
            "API server outage; it resumes at the first probe that finds the server back.",
            "gt": 0,
            "max": 60,
        },
    )

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Delay before retry number ``attempt`` (1-based): half fixed, half random."""
        base = min(self.max_s, self.initial_s * self.factor ** max(0, attempt - 1))
        return base / 2 + (rng or random).uniform(0, base / 2)

    def problems(self) -> Iterator[tuple[str, str]]:
        if self.max_s < self.initial_s:
            yield "max_s", "must be at least the initial delay"


def _default_identity() -> str:
    return f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class LeaderElectionSettings:
    enabled: bool = field(
        default=True, metadata={"help": "Elect one leader among replicas with a Lease."}
    )
    lease_name: str = field(
        default="assay-workflow-controller", metadata={"help": "Name of the leader Lease."}
    )
    lease_namespace: str = field(
        default="",
        metadata={"help": "Namespace of the leader Lease (empty: the execution namespace)."},
    )
    identity: str = field(
        default_factory=_default_identity,
        metadata={
            "help": "This replica's identity in the Lease (e.g. the pod name).",
            "default_text": "<hostname>-<random>",
        },
    )
    lease_duration_s: float = field(
        default=15.0,
        metadata={"help": "Seconds a Lease not renewed stays the holder's.", "gt": 0},
    )
    renew_deadline_s: float = field(
        default=10.0,
        metadata={
            "help": "Seconds the leader keeps failing to renew before it steps down.",
            "gt": 0,
        },
    )
    retry_period_s: float = field(
        default=2.0, metadata={"help": "Seconds between acquire or renew attempts.", "gt": 0}
    )

    def problems(self) -> Iterator[tuple[str, str]]:
        if not is_dns_subdomain(self.lease_name):
            yield "lease_name", "must be a DNS subdomain name (lower case, digits, '-', '.')"
        if self.lease_namespace and not is_dns_label(self.lease_namespace):
            yield "lease_namespace", "must be a namespace name (a DNS label)"
        if not self.identity.strip() or len(self.identity) > 253:
            yield "identity", "must be 1 to 253 characters"
        if not self.retry_period_s < self.renew_deadline_s < self.lease_duration_s:
            yield "renew_deadline_s", "needs retry period < renew deadline < lease duration"
