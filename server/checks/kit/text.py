"""Quoting values from the inventory in result messages.

Objects come from clusters and files nobody vetted: an image name, a port name or a label
value may be megabytes long or hold control characters. Checks quote such values through
:func:`shown` so a message stays one readable line of bounded size.
"""

from __future__ import annotations

LIMIT = 80


def shown(value: object, limit: int = LIMIT) -> str:
    """``value`` quoted for a message: ``repr`` of a string (escaping control characters
    and NUL), cut to ``limit`` characters with an ellipsis; other values by ``str``."""
    text = repr(value) if isinstance(value, str) else str(value)
    if len(text) > limit:
        return text[: limit - 3] + "..."
    return text
