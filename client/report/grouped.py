"""Failing findings grouped by check, for the end of ``assay run`` and ``assay scan``.

One heading per check (severity, id, name, how many objects fail it), worst severity first,
then the objects: at most ``per_check`` per check and ``total`` in all unless everything is
asked for, with a line saying how many more there are. Every string from the server or a
manifest is a :class:`rich.text.Text`, printed as it is, never read as markup.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.text import Text

from assay.client.formatters import enum_name
from assay.v1 import assessment_pb2 as apb
from assay.v1 import common_pb2 as cpb

PER_CHECK = 5
TOTAL = 50

_SEVERITY_STYLE: dict[int, str] = {
    cpb.SEVERITY_CRITICAL: "bold red",
    cpb.SEVERITY_HIGH: "red",
    cpb.SEVERITY_MEDIUM: "yellow",
    cpb.SEVERITY_LOW: "cyan",
    cpb.SEVERITY_INFO: "dim",
}


@dataclass(frozen=True)
class CheckGroup:
    check_id: str
    check_name: str
    severity: int
    results: list[apb.AssessmentResult]


def group_by_check(results: Sequence[apb.AssessmentResult]) -> list[CheckGroup]:
    """The results per check: worst severity first, then most results, then check id."""
    by_check: dict[str, list[apb.AssessmentResult]] = defaultdict(list)
    for r in results:
        by_check[r.check_id].append(r)
    groups = [
        CheckGroup(
            check_id,
            found[0].check_name,
            max(r.severity for r in found),
            sorted(found, key=_object_order),
        )
        for check_id, found in by_check.items()
    ]
    groups.sort(key=lambda g: (-g.severity, -len(g.results), g.check_id))
    return groups


def _object_order(r: apb.AssessmentResult) -> tuple[str, str, str, str]:
    return (r.object.namespace, r.object.kind, r.object.name, r.container)


def object_text(r: apb.AssessmentResult) -> str:
    """``Kind/namespace/name [container]``; ``-`` for a result about no object."""
    parts = [p for p in (r.object.kind, r.object.namespace, r.object.name) if p]
    text = "/".join(parts) or "-"
    return f"{text} [{r.container}]" if r.container else text


def location_text(r: apb.AssessmentResult) -> str:
    """``file:line`` of the object, when the result knows it."""
    if not r.HasField("origin") or not r.origin.path:
        return ""
    return f"{r.origin.path}:{r.origin.line}" if r.origin.line else r.origin.path


def severity_name(value: int) -> str:
    """``SEVERITY_HIGH`` -> ``high``, the name the CLI prints and its filters take."""
    return enum_name(cpb.Severity, value)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _indent(text: Text, columns: int) -> Padding:
    return Padding(text, (0, 0, 0, columns), expand=False)


def grouped_findings(
    results: Sequence[apb.AssessmentResult],
    *,
    title: str = "Failing findings by check",
    show_all: bool = False,
    per_check: int = PER_CHECK,
    total: int = TOTAL,
) -> RenderableType:
    """The renderable listing; ``show_all`` lifts both limits."""
    groups = group_by_check(results)
    if not groups:
        return Text(f"{title}: none", style="green")
    lines: list[RenderableType] = [
        Text(
            f"{title} ({_count(len(groups), 'check')}, {_count(len(results), 'result')})",
            style="bold",
        )
    ]
    room = total
    hidden = 0
    for group in groups:
        heading = Text()
        heading.append(f"{severity_name(group.severity):<8}", _SEVERITY_STYLE.get(group.severity))
        heading.append(f" {group.check_id}", style="bold")
        heading.append(f"  {group.check_name}  ")
        heading.append(f"({len(group.results)})", style="bold")
        lines.append(_indent(heading, 2))
        shown = group.results if show_all else group.results[: max(min(per_check, room), 0)]
        room -= len(shown)
        for r in shown:
            line = Text(object_text(r))
            where = location_text(r)
            if where:
                line.append(f"  {where}", style="dim")
            lines.append(_indent(line, 4))
            if r.message:
                lines.append(_indent(Text(r.message, style="dim"), 6))
        more = len(group.results) - len(shown)
        hidden += more
        if more and shown:
            lines.append(_indent(Text(f"... and {more} more", style="dim"), 4))
    if hidden:
        lines.append(Text(f"{hidden} findings not shown: --show all lists every one", style="dim"))
    return Group(*lines)
