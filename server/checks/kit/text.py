"""Wording helpers for check messages: values quoted safely, counts, short lists.

Objects come from clusters and files nobody vetted: an image name, a port name or a label
value may be megabytes long or hold control characters. Checks quote such values through
:func:`shown` so a message stays one readable line of bounded size::

    shown("evil\x00name")                -> "'evil\\x00name'"
    counted(1, "Service")                 -> "1 Service"
    counted(3, "policy", "policies")      -> "3 policies"
    listed(["a/x", "a/y", ...], most=5)   -> "a/x, a/y, ... and 4 more"
"""

from __future__ import annotations

from collections.abc import Sequence

LIMIT = 80


def shown(value: object, limit: int = LIMIT) -> str:
    """``value`` quoted for a message: ``repr`` of a string (escaping control characters
    and NUL), cut to ``limit`` characters with an ellipsis; other values by ``str``."""
    text = repr(value) if isinstance(value, str) else str(value)
    if len(text) > limit:
        return text[: limit - 3] + "..."
    return text


def counted(count: int, singular: str, plural: str | None = None) -> str:
    """``count`` and the noun in the right number (``plural`` defaults to ``singular + s``)."""
    noun = singular if count == 1 else (plural or singular + "s")
    return f"{count} {noun}"


def listed(names: Sequence[str], most: int = 5) -> str:
    """The first ``most`` names joined by commas, and how many more there are."""
    head = ", ".join(names[:most])
    rest = len(names) - most
    return head + (f" and {rest} more" if rest > 0 else "")
