"""Small wording helpers for check messages: counts with their noun, and short lists.

counted(1, "Service")                 -> "1 Service"
counted(3, "policy", "policies")      -> "3 policies"
listed(["a/x", "a/y", ...], most=5)   -> "a/x, a/y, ... and 4 more"
"""

from __future__ import annotations

from collections.abc import Sequence


def counted(count: int, singular: str, plural: str | None = None) -> str:
    """``count`` and the noun in the right number (``plural`` defaults to ``singular + s``)."""
    noun = singular if count == 1 else (plural or singular + "s")
    return f"{count} {noun}"


def listed(names: Sequence[str], most: int = 5) -> str:
    """The first ``most`` names joined by commas, and how many more there are."""
    shown = ", ".join(names[:most])
    rest = len(names) - most
    return shown + (f" and {rest} more" if rest > 0 else "")
