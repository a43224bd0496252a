"""The port through which the runner persists runs and results.

The runner never imports storage (see docs/design.md, "Layers"); the storage layer provides an
implementation of :class:`RunSink` and the composition root hands it to the runner.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from assay.server.core.types import AssessmentResult, HistoryEntry, Run


class RunSink(Protocol):
    async def create_run(self, run: Run) -> None:
        """Persist a new run (state queued)."""

    async def update_run(self, run: Run) -> None:
        """Persist a run's new state, timestamps, counts, diagnostics or error."""

    async def add_results(self, results: Sequence[AssessmentResult]) -> None:
        """Persist a batch of results (one check's worth, as it finishes)."""

    async def finish_run(self, run: Run, history: HistoryEntry) -> None:
        """Persist the terminal run state and its history row in one transaction."""
