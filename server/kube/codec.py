"""JSON in and out of the API server: bodies decoded off the event loop when large.

Used by the client for every answer and by the watch stream for every event line.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Final

THREAD_PARSE_BYTES: Final = 512 * 1024
"""Bodies at least this big are parsed in a worker thread, not on the event loop."""

_ERROR_TEXT_MAX = 500


async def decode_json(raw: bytes) -> Any:
    """``raw`` as JSON (ValueError if it is not); None when empty."""
    if not raw:
        return None
    if len(raw) >= THREAD_PARSE_BYTES:
        return await asyncio.to_thread(json.loads, raw)
    return json.loads(raw)


def error_body(raw: bytes) -> Any:
    """An error answer as JSON when it is JSON (a ``Status``); otherwise a stand-in Status
    whose message is the start of the text, so a proxy's HTML error still says something."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        text = raw[:_ERROR_TEXT_MAX].decode("utf-8", "replace").strip()
        return {"message": text} if text else None
