"""Which findings are new, fixed or unchanged between two sets of results.

The one comparison behind ``assay scan --baseline`` and ``assay query assessments diff``.
A finding's identity is its check and its object (kind, namespace, name) and container:
messages, severities and ids may change between runs and do not make a finding new. A
renamed object is a different object: its findings are new and the old name's are fixed.
Linear in the sizes of both sets.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from assay.v1 import assessment_pb2 as apb

Identity = tuple[str, str, str, str, str]
"""check id, object kind, namespace, name, container."""


def identity(result: apb.AssessmentResult) -> Identity:
    obj = result.object
    return (result.check_id, obj.kind, obj.namespace, obj.name, result.container)


@dataclass(frozen=True)
class Comparison:
    """``new``: in the later set only; ``fixed``: in the earlier set only (as it was there);
    ``unchanged``: in both (as it is in the later set). Each keeps its set's order."""

    new: list[apb.AssessmentResult]
    fixed: list[apb.AssessmentResult]
    unchanged: list[apb.AssessmentResult]


def compare(
    before: Iterable[apb.AssessmentResult], after: Iterable[apb.AssessmentResult]
) -> Comparison:
    """Match ``after`` against ``before`` by :func:`identity`. The same identity twice (two
    results of one check on one object) is matched one for one."""
    earlier: dict[Identity, list[apb.AssessmentResult]] = defaultdict(list)
    for result in before:
        earlier[identity(result)].append(result)
    used: dict[Identity, int] = defaultdict(int)
    new: list[apb.AssessmentResult] = []
    unchanged: list[apb.AssessmentResult] = []
    for result in after:
        key = identity(result)
        if used[key] < len(earlier.get(key, ())):
            used[key] += 1
            unchanged.append(result)
        else:
            new.append(result)
    fixed = [r for key, results in earlier.items() for r in results[used.get(key, 0) :]]
    return Comparison(new=new, fixed=fixed, unchanged=unchanged)
