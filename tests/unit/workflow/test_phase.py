"""The phase state machine."""

from __future__ import annotations

import itertools

import pytest

from assay.server.workflow.errors import InvalidTransition
from assay.server.workflow.model import Phase
from assay.server.workflow.phase import TERMINAL, can_transition, check_transition, is_terminal

ALLOWED = {
    (Phase.PENDING, Phase.RUNNING),
    (Phase.PENDING, Phase.SKIPPED),
    (Phase.PENDING, Phase.FAILED),
    (Phase.RUNNING, Phase.COMPLETED),
    (Phase.RUNNING, Phase.FAILED),
}


@pytest.mark.parametrize(("src", "dst"), list(itertools.product(Phase, Phase)))
def test_transition_table(src: Phase, dst: Phase) -> None:
    assert can_transition(src, dst) is ((src, dst) in ALLOWED)
    if (src, dst) in ALLOWED:
        check_transition(src, dst)
    else:
        with pytest.raises(InvalidTransition):
            check_transition(src, dst)


def test_terminal_phases_never_change() -> None:
    assert {Phase.COMPLETED, Phase.FAILED, Phase.SKIPPED} == TERMINAL
    for phase in TERMINAL:
        assert is_terminal(phase)
        assert not any(can_transition(phase, other) for other in Phase)
    assert not is_terminal(Phase.PENDING) and not is_terminal(Phase.RUNNING)
