"""The WorkflowExecution phase state machine: which transitions exist, which phases are final.

::

    Pending ──> Running ──> Completed
       │           └──────> Failed
       ├──> Skipped            (target busy, or recently remediated)
       └──> Failed             (configuration error before anything ran)

An execution starts in Pending: :func:`~assay.server.workflow.model.phase_of` reads a
missing phase so, and the first reconcile writes it for readers of the object; that write is
not a transition, so it has no audit event (each transition out of Pending has exactly one).
Terminal phases (Completed, Failed, Skipped) never change. The reconciler asks
:func:`check_transition` before every status write (also when it re-applies a change after a
resourceVersion conflict), so no code path can move an execution backwards.
"""

from __future__ import annotations

from collections.abc import Mapping

from assay.server.workflow.errors import InvalidTransition
from assay.server.workflow.model import Phase

TRANSITIONS: Mapping[Phase, frozenset[Phase]] = {
    Phase.PENDING: frozenset({Phase.RUNNING, Phase.SKIPPED, Phase.FAILED}),
    Phase.RUNNING: frozenset({Phase.COMPLETED, Phase.FAILED}),
    Phase.COMPLETED: frozenset(),
    Phase.FAILED: frozenset(),
    Phase.SKIPPED: frozenset(),
}

TERMINAL: frozenset[Phase] = frozenset(p for p, nxt in TRANSITIONS.items() if not nxt)


def is_terminal(phase: Phase) -> bool:
    return phase in TERMINAL


def can_transition(current: Phase, target: Phase) -> bool:
    """True for a real transition; staying in the same phase is not one."""
    return target in TRANSITIONS[current]


def check_transition(current: Phase, target: Phase) -> None:
    """Raise :class:`InvalidTransition` unless ``current -> target`` is allowed."""
    if not can_transition(current, target):
        raise InvalidTransition(current=current, target=target)
