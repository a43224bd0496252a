"""The check reference (docs/checks.md), generated from a registry.

``scripts/generate`` writes docs/checks.md with the built-in checks; a test fails when the
file drifts from the registry. Plug-in authors can render their own checks the same way::

    from assay.server.checks.kit.docs import render
    print(render(MY_CHECKS))
"""

from __future__ import annotations

from collections.abc import Iterable

from assay.server.checks.kit.definition import EVERYTHING, Check, param_fields
from assay.server.checks.kit.params import HELP, describe_type, hints, render_value
from assay.server.core.types import Pillar

SCOPE_WORDS = {
    "W": "one object",
    "X": "several objects",
    "N": "a namespace as a whole",
    "C": "the cluster as a whole",
    "L": "live status (skipped on manifests)",
    "M": "the metrics API (skipped on manifests and when the API is absent)",
}

HEADER = """\
# Check reference

<!-- Generated from the check registry by scripts/generate; do not edit by hand. -->

Every check Assay ships, by pillar. `assay checks list` prints what a running server has
(plug-ins included, severities as its policy file sets them). How to switch checks off,
change severities and parameters, and exempt objects: [policy.md](policy.md). How to write
a check: [writing-checks.md](writing-checks.md).

A check gives one result per object (or container) it looked at, so summaries count
coverage; a check with nothing it applies to gives one `skipped` result that says why.
Scope codes: W one object, X several objects, N a namespace, C the cluster, L live status
(skipped on manifests), M the metrics API; `(+L)` marks an optional live part.
"""


def render(checks: Iterable[Check]) -> str:
    """The whole reference, checks sorted by pillar then id."""
    ordered = sorted(checks, key=lambda c: (list(Pillar).index(c.definition.pillar), c.id))
    parts = [HEADER, _summary(ordered)]
    for pillar in Pillar:
        in_pillar = [c for c in ordered if c.definition.pillar is pillar]
        if in_pillar:
            parts.append(f"## {_title(pillar)}\n")
            parts.extend(_section(c) for c in in_pillar)
    return "\n".join(parts).rstrip() + "\n"


def _title(pillar: Pillar) -> str:
    return str(pillar).replace("_", " ").capitalize()


def _summary(checks: list[Check]) -> str:
    rows = ["| ID | Pillar | Name | Scope | Severity |", "| --- | --- | --- | --- | --- |"]
    for check in checks:
        d = check.definition
        anchor = f"{d.id}-{d.name}".lower().replace(" ", "-")
        anchor = "".join(ch for ch in anchor if ch.isalnum() or ch == "-")
        rows.append(
            f"| [{d.id}](#{anchor}) | {_title(d.pillar).lower()} | {_cell(d.name)} "
            f"| {d.scope} | {d.severity} |"
        )
    return "\n".join(rows) + "\n"


def _section(check: Check) -> str:
    d = check.definition
    scope_codes = sorted(d.parsed_scope.required | d.parsed_scope.optional, key="WXNCLM".index)
    facts = [
        ("Pillar", _title(d.pillar).lower()),
        ("Default severity", str(d.severity)),
        ("Scope", f"{d.scope}: " + ", ".join(SCOPE_WORDS[c] for c in scope_codes)),
        ("Reads", ", ".join(d.kinds) or "nothing"),
        ("Applies to", _applies(check)),
    ]
    if d.required_groups:
        facts.append(("Needs served live", ", ".join(sorted(d.required_groups))))
    lines = [f"### {d.id} {d.name}\n", _cell(d.description) + "\n"]
    lines.append("| | |\n| --- | --- |")
    lines.extend(f"| {label} | {_cell(value)} |" for label, value in facts)
    lines.append("")
    params = _params(check)
    if params:
        lines.append(params)
    lines.append(f"**Remediation.** {_cell(d.remediation)}\n")
    for note in d.notes:
        lines.append(f"**Note.** {_cell(note)}\n")
    return "\n".join(lines)


def _applies(check: Check) -> str:
    d = check.definition
    text = d.applies_to.description if d.applies_to is not EVERYTHING else "every object it reads"
    if check.shape.startswith("container:"):
        text += "; judged per container: " + check.shape.split(":", 1)[1]
    elif check.shape == "workload":
        text += "; judged per workload (a controller's Pods and ReplicaSets through it)"
    return text


def _params(check: Check) -> str:
    params = check.definition.params
    fields = param_fields(params)
    if not fields:
        return ""
    defaults = check.definition.default_params()
    types_by_name = hints(params)
    rows = [
        "**Parameters** (set them in the policy file under `checks." + check.id + ".params`):\n",
        "| Name | Type | Default | Meaning |",
        "| --- | --- | --- | --- |",
    ]
    for field in fields:
        rows.append(
            f"| `{field.name}` | {describe_type(types_by_name[field.name])} "
            f"| `{render_value(getattr(defaults, field.name))}` "
            f"| {_cell(str(field.metadata.get(HELP, '')))} |"
        )
    return "\n".join(rows) + "\n"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")
