"""Free text from a cluster (event, condition and status messages) as it goes into findings.

Such text is whatever a kubelet, controller or manifest author wrote: it may run to
kilobytes, span lines or hold control characters (NUL breaks PostgreSQL text columns).
:func:`one_line` bounds it; :func:`condition_text` renders a condition's reason and message.
Used by the live-status reliability checks.
"""

from __future__ import annotations

from assay.server.inventory.raw import KubeObject

LIMIT = 200


def one_line(value: object, limit: int = LIMIT) -> str:
    """``value`` as one line: whitespace collapsed, other control characters escaped,
    cut to ``limit`` characters with an ellipsis."""
    text = " ".join(str(value if value is not None else "").split())
    text = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def reason_and_message(status: KubeObject, limit: int = LIMIT) -> str:
    """``Reason: message`` of a condition or status (either may be missing), or ``""``."""
    parts = [one_line(status.get(field), limit) for field in ("reason", "message")]
    return ": ".join(part for part in parts if part)


def condition_text(condition: KubeObject, limit: int = LIMIT) -> str:
    """`` (Reason: message)`` of a status condition, or ``""`` when it says neither."""
    text = reason_and_message(condition, limit)
    return f" ({text})" if text else ""
