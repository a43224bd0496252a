"""Optimistic concurrency: redo a read-modify-write when the API server answers 409 Conflict.

Every write that carries a resourceVersion (a PUT of an object that was read, a DELETE with
a precondition) fails with :class:`~assay.server.kube.errors.KubeConflict` when someone else
wrote first. The fix is always the same: read the object again, re-apply the same change,
write again; and give up after a bounded number of attempts, because a caller looping
forever on a hot object helps nobody. :class:`ConflictRetry` is that loop, written once,
with the limit from ``ASSAY_KUBE_CONFLICT_RETRIES``; each client carries one
(``KubeClient.conflicts``)::

    written = await kube.conflicts.update(obj, write=put_status, reread=get_fresh)
    outcome = await kube.conflicts.run(attempt)          # attempt re-reads by itself
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from assay.server.kube.errors import KubeConflict, KubeError

T = TypeVar("T")
Obj = TypeVar("Obj")  # the object being rewritten

DEFAULT_LIMIT = 8


class ConflictRetry:
    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        if limit < 1:
            raise ValueError("a conflict retry needs at least one attempt")
        self.limit = limit

    async def run(
        self,
        attempt: Callable[[], Awaitable[T]],
        *,
        what: str = "the object",
        also: tuple[type[KubeError], ...] = (),
    ) -> T:
        """Await ``attempt()`` until it does not raise a conflict (or one of ``also``),
        at most ``limit`` times; then raise a :class:`KubeConflict` caused by the last one.

        ``also`` names further errors that mean "the state moved under us, look again",
        such as a NotFound between a create that found the name taken and the read after it.
        """
        retried: tuple[type[KubeError], ...] = (KubeConflict, *also)
        last: KubeError | None = None
        for _ in range(self.limit):
            try:
                return await attempt()
            except retried as exc:
                last = exc
        raise KubeConflict(
            409,
            reason="Conflict",
            message=f"{what} kept changing; gave up after {self.limit} attempts",
        ) from last

    async def update(
        self,
        obj: Obj,
        *,
        write: Callable[[Obj], Awaitable[T]],
        reread: Callable[[Obj], Awaitable[Obj]],
        what: str = "the object",
    ) -> T:
        """``write(obj)``; after each conflict ``write(await reread(obj))`` on the fresh copy.

        ``write`` computes the change from the object it is given (and may return without
        writing when nothing is left to do); ``reread`` fetches the current object.
        """
        current = obj
        first = True

        async def attempt() -> T:
            nonlocal current, first
            if not first:
                current = await reread(current)
            first = False
            return await write(current)

        return await self.run(attempt, what=what)
