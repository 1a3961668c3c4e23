"""Logs as JSON lines (LOG_FORMAT=json), each carrying what is known of the request.

`RequestContextMiddleware` puts the request id, then the user id and the conversation id, into
`context`; every record logged while the request runs carries them, on any thread the request's
work goes to (asgiref copies the context into sync_to_async threads).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import traceback

context: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "convodesk_log_context", default=None
)

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def current() -> dict:
    return context.get() or {}


def bind(**fields) -> None:
    """Add fields (e.g. conversation_id) to the running request's log context."""
    found = context.get()
    if found is None:
        context.set({k: v for k, v in fields.items() if v is not None})
    else:
        found.update({k: v for k, v in fields.items() if v is not None})


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(current())
        for key, value in vars(record).items():  # extra={...} fields
            if key not in _STANDARD and not key.startswith("_"):
                entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return json.dumps(entry, default=str, ensure_ascii=False)
