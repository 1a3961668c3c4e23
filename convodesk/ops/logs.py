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


# URL arguments that name a conversation (the list's row actions, the workspace, the API).
CONVERSATION_KWARGS = ("conversation_id", "conversation")


def _conversation_of(match) -> object:
    kwargs = match.kwargs if match is not None else {}
    for name in CONVERSATION_KWARGS:
        if name in kwargs:
            return kwargs[name]
    route = match.route if match is not None else ""
    if "pk" in kwargs and ("conversations/" in route or "workspace/c/" in route):
        return kwargs["pk"]
    return None


def _user_id(request):
    """The user the request already loaded (session or API token); never a query from here."""
    auth = getattr(request, "auth", None)  # django-ninja's token user
    if getattr(auth, "pk", None) is not None:
        return auth.pk
    from django.utils.functional import empty

    user = request.__dict__.get("user")
    wrapped = getattr(user, "_wrapped", user)
    if wrapped is None or wrapped is empty:  # no user, or a lazy one not read yet
        return None
    return getattr(wrapped, "pk", None) if getattr(wrapped, "is_authenticated", False) else None


def current() -> dict:
    found = dict(context.get() or {})
    request = found.pop("_request", None)
    if request is not None:
        found.setdefault("user_id", _user_id(request))
        found.setdefault(
            "conversation_id", _conversation_of(getattr(request, "resolver_match", None))
        )
    return {k: v for k, v in found.items() if v is not None}


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
