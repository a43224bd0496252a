"""The port through which the runner persists runs and results.

The runner never imports storage (see docs/design.md, "Layers"); the storage layer provides an
implementation of :class:`RunSink` and the composition root hands it to the runner.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from assay.server.core.types import AssessmentResult, HistoryEntry, Run, RunId


class CancelOutcome(enum.Enum):
    """What a cancel request stored for another replica came to."""

    REQUESTED = "requested"
    """Stored; the owner cancels the run on its next heartbeat."""
    OWNER_GONE = "owner gone"
    """The owner is dead: the run was failed at once."""
    ENDED = "ended"
    """The run had already finished."""


class RunSink(Protocol):
    async def create_run(self, run: Run) -> None:
        """Persist a new run (state queued), owned by this replica."""

    async def update_run(self, run: Run) -> None:
        """Persist a run's new state, timestamps, counts, diagnostics or error."""

    def prepare(self, results: Sequence[AssessmentResult]) -> object:
        """Called in the check's own thread as soon as its results exist; what it returns
        comes back to :meth:`add_results` as ``prepared``. A sink encodes a batch here (off
        the loop, while earlier batches are being written), or returns ``None``."""

    async def add_results(
        self, results: Sequence[AssessmentResult], *, run: Run, prepared: object = None
    ) -> None:
        """Persist a batch of results (one check's worth, as it finishes) and ``run`` with
        its counts including them, in one transaction; ``prepared`` is what
        :meth:`prepare` made of ``results``."""

    async def finish_run(self, run: Run, history: HistoryEntry) -> None:
        """Persist the terminal run state and its history row in one transaction."""

    async def request_cancel(
        self, run_id: RunId, reason: str, *, now: datetime, stale_before: datetime, dead_reason: str
    ) -> tuple[Run, CancelOutcome]:
        """Ask the replica executing ``run_id`` (not this one) to cancel it; the run as it
        now stands and what the request came to. A run whose owner is gone (heartbeat
        before ``stale_before``, or this replica's name from before a restart) is failed at
        once with ``dead_reason``; a finished run comes back as it is. NotFound when no
        such run exists."""
