"""Leader election over a ``coordination.k8s.io/v1`` Lease, for several controller replicas.

The workflow controller runs :meth:`LeaderElector.run` and reconciles only between the
``on_started_leading`` and ``on_stopped_leading`` callbacks. (``kubernetes.aio``'s own
elector in 37.0.2 sends an invalid ``pretty=True`` on create, hence this small one.)

Contract:

* A candidate takes the Lease when it does not exist (create), when it is free
  (``holderIdentity`` empty) or when it has not changed for ``lease_duration`` as observed on
  the candidate's own monotonic clock (so clock skew between replicas does not matter).
  Every write is a conditional PUT carrying the resourceVersion it read: of two candidates,
  one gets 409 and stays a follower.
* The leader renews every ``retry_period``. If it cannot renew for ``renew_deadline``
  (< ``lease_duration``), it steps down *before* anyone else may take over.
* ``on_started_leading`` is awaited after the Lease is won; ``on_stopped_leading`` is awaited
  after leadership is lost or when ``run`` is cancelled while leading. The elector then
  competes again (``run`` returns only by cancellation).
* On cancellation the leader releases the Lease (empty holder), so a successor does not
  wait out the lease duration.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from assay.server.kube.client import KubeClient
from assay.server.kube.errors import KubeAlreadyExists, KubeConflict, KubeError, KubeNotFound
from assay.server.kube.objects import KubeObject, meta
from assay.server.kube.resources import LEASES
from assay.server.kube.settings import LeaderElectionSettings
from assay.server.kube.times import format_micro_time

log = logging.getLogger(__name__)

Callback = Callable[[], Awaitable[None]]


class LeaderElector:
    def __init__(
        self,
        kube: KubeClient,
        settings: LeaderElectionSettings,
        *,
        namespace: str,
        on_started_leading: Callback,
        on_stopped_leading: Callback,
    ) -> None:
        if not settings.retry_period_s < settings.renew_deadline_s < settings.lease_duration_s:
            raise ValueError("need retry_period < renew_deadline < lease_duration")
        self._kube = kube
        self._settings = settings
        self._namespace = namespace
        self._on_started = on_started_leading
        self._on_stopped = on_stopped_leading
        self._observed: tuple[str, str, str] | None = None  # holder, renewTime, rv
        self._observed_at = 0.0
        self.is_leader = False
        self.transitions = 0

    @property
    def identity(self) -> str:
        return self._settings.identity

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _spec(self, previous: dict[str, object] | None) -> dict[str, object]:
        now = format_micro_time(datetime.now(UTC))
        prev = previous or {}
        same_holder = prev.get("holderIdentity") == self.identity
        transitions = prev.get("leaseTransitions")
        count = transitions if isinstance(transitions, int) else 0
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": max(1, math.ceil(self._settings.lease_duration_s)),
            "acquireTime": prev.get("acquireTime") if same_holder else now,
            "renewTime": now,
            "leaseTransitions": count if same_holder else count + (1 if previous else 0),
        }

    async def _try_acquire_or_renew(self) -> bool:
        name = self._settings.lease_name
        try:
            lease = await self._kube.get(LEASES, self._namespace, name)
        except KubeNotFound:
            body: KubeObject = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": name, "namespace": self._namespace},
                "spec": self._spec(None),
            }
            try:
                await self._kube.create(LEASES, self._namespace, body)
            except KubeAlreadyExists:
                return False
            self._observed = None
            return True
        spec = dict(lease.get("spec") or {})
        holder = str(spec.get("holderIdentity") or "")
        record = (
            holder,
            str(spec.get("renewTime") or ""),
            str(meta(lease).get("resourceVersion") or ""),
        )
        if record != self._observed:
            self._observed = record
            self._observed_at = self._now()
        expired = self._now() - self._observed_at >= self._settings.lease_duration_s
        if holder and holder != self.identity and not expired:
            return False
        lease["spec"] = self._spec(spec)
        try:
            await self._kube.replace(LEASES, self._namespace, name, lease)
        except (KubeConflict, KubeNotFound):
            return False
        return True

    async def _attempt(self) -> bool:
        try:
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation
            # that races with the attempt finishing, and the elector would never stop.
            async with asyncio.timeout(self._settings.retry_period_s * 2):
                return await self._try_acquire_or_renew()
        except (KubeError, TimeoutError) as exc:
            log.debug("leader election attempt failed: %s", exc)
            return False

    async def _acquire(self) -> None:
        while True:
            if await self._attempt():
                return
            await asyncio.sleep(self._settings.retry_period_s)

    async def _renew_until_lost(self) -> None:
        last_renew = self._now()
        while True:
            await asyncio.sleep(self._settings.retry_period_s)
            if await self._attempt():
                last_renew = self._now()
            elif self._now() - last_renew >= self._settings.renew_deadline_s:
                log.warning("%s lost the leader lease", self.identity)
                return

    async def _release(self) -> None:
        name = self._settings.lease_name
        try:
            lease = await self._kube.get(LEASES, self._namespace, name)
            spec = dict(lease.get("spec") or {})
            if spec.get("holderIdentity") != self.identity:
                return
            spec.update(
                holderIdentity="",
                leaseDurationSeconds=1,
                renewTime=format_micro_time(datetime.now(UTC)),
            )
            lease["spec"] = spec
            await self._kube.replace(LEASES, self._namespace, name, lease)
        except KubeError as exc:
            log.info("could not release the leader lease: %s", exc)

    async def run(self) -> None:
        """Compete for leadership until cancelled."""
        while True:
            await self._acquire()
            self.is_leader = True
            self.transitions += 1
            log.info("%s now holds the leader Lease %s", self.identity, self._settings.lease_name)
            try:
                await self._on_started()
                await self._renew_until_lost()
            except asyncio.CancelledError:
                self.is_leader = False
                await asyncio.shield(self._stop_and_release())
                raise
            self.is_leader = False
            await self._on_stopped()

    async def _stop_and_release(self) -> None:
        try:
            await self._on_stopped()
        finally:
            await self._release()
