"""The seed product's REST transport: how a request is read and how every answer looks.

Measured with its official Python client (see README "Moving from Bitrix24"): POST with a JSON
body, or a PHP-bracket form body (`FIELDS[NAME]=…`, `select[]=ID`), or GET with the same in the
query string; method names in any case; every answer is `{"result": …, "time": {…}}` with the
full time object, lists add `total` and `next`; errors are `{"error", "error_description"}` with
the seed product's HTTP statuses. Nothing here knows a method: see `registry.py`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from django.conf import settings
from django.http import JsonResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from convodesk.conversations.normalize import clean_data
from convodesk.ratelimit import LeakyBucket

PAGE_SIZE = 50
MAX_KEYS = 2000  # parameters in one request
MAX_DEPTH = 12  # brackets in one key
OPERATING_WINDOW = 600  # seconds: the seed product's per-method operating-time window


class B24Error(Exception):
    """An error answered in the seed product's shape."""

    def __init__(self, code: str, description, status: int = 400):
        super().__init__(str(description))
        self.code, self.description, self.status = code, description, status

    def body(self) -> dict:
        return {"error": self.code, "error_description": str(self.description)}


def not_found_method():
    return B24Error("ERROR_METHOD_NOT_FOUND", _("Method not found!"), 404)


def invalid(description) -> B24Error:
    return B24Error("INVALID_ARG_VALUE", description, 400)


def access_denied(description=None) -> B24Error:
    return B24Error("ACCESS_DENIED", description or _("Access denied!"), 403)


@dataclass
class Result:
    """A method's answer: `result`, and for a list its `total` and `next` (None: not sent)."""

    result: object
    total: int | None = None
    next: int | None = None
    extra: dict = field(default_factory=dict)


# Time object ------------------------------------------------------------------------------


def iso(value: dt.datetime | None, tz=None) -> str | None:
    """The seed product's dates: ISO 8601 with the offset, whole seconds (2024-06-01T10:00:00+03:00)."""
    if value is None:
        return None
    return timezone.localtime(value, tz).replace(microsecond=0).isoformat()


def time_object(start: float, finish: float, processing: float | None = None, tz=None) -> dict:
    duration = max(0.0, finish - start)
    processing = duration if processing is None else processing
    as_dt = dt.UTC
    return {
        "start": start,
        "finish": finish,
        "duration": duration,
        "processing": processing,
        "date_start": iso(dt.datetime.fromtimestamp(start, as_dt), tz),
        "date_finish": iso(dt.datetime.fromtimestamp(finish, as_dt), tz),
        "operating_reset_at": int(start) + OPERATING_WINDOW,
        "operating": round(processing, 6),
    }


def respond(body: dict, status: int = 200) -> JsonResponse:
    response = JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})
    response["Cache-Control"] = "no-store"
    return response


# Reading parameters -------------------------------------------------------------------------

_KEY_RE = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def _listify(value):
    """PHP arrays with keys 0..n-1 are lists (select[0]=ID&select[1]=TITLE)."""
    if isinstance(value, dict):
        value = {k: _listify(v) for k, v in value.items()}
        keys = list(value)
        if (
            keys
            and all(k.isdigit() for k in keys)
            and sorted(map(int, keys)) == list(range(len(keys)))
        ):
            return [value[str(i)] for i in range(len(keys))]
    return value


def php_decode(pairs) -> dict:
    """`FIELDS[NAME]=x&select[]=ID` → {"FIELDS": {"NAME": "x"}, "select": ["ID"]}."""
    root: dict = {}
    for count, (key, value) in enumerate(pairs):
        if count >= MAX_KEYS:
            raise B24Error("INVALID_REQUEST", _("Too many parameters."), 400)
        match = _KEY_RE.match(key)
        if match is None:
            root[key] = value
            continue
        parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        if len(parts) > MAX_DEPTH:
            raise B24Error("INVALID_REQUEST", _("Parameters are nested too deep."), 400)
        node = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if part == "":  # select[] appends
                part = str(sum(1 for k in node if k.isdigit()))
            if last:
                node[part] = value
            else:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = {}
                    node[part] = child
                node = child
    return _listify(root)


def parse_query(query: str) -> dict:
    return clean_data(php_decode(parse_qsl(query, keep_blank_values=True)))


def read_params(request) -> dict:
    """The query string's parameters, overlaid with the body's (JSON or form); every text
    cleaned (`clean_data`: no NUL, no lone surrogate) before any method reads it."""
    return clean_data(_read(request))


def _read(request) -> dict:
    params = parse_query(request.META.get("QUERY_STRING", ""))
    if request.method != "POST":
        return params
    content_type = request.content_type or ""
    body = request.body
    if content_type == "application/json" or (body[:1] in (b"{", b"[") and not content_type):
        if not body.strip():
            return params
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise B24Error("INVALID_REQUEST", _("The body is not valid JSON."), 400) from None
        if not isinstance(data, dict):
            raise B24Error("INVALID_REQUEST", _("The body must be a JSON object."), 400)
        return {**params, **data}
    if content_type == "multipart/form-data":
        pairs = [(k, v) for k, values in request.POST.lists() for v in values]
        return {**params, **php_decode(pairs)}
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise B24Error("INVALID_REQUEST", _("The body is not UTF-8."), 400) from None
    return {**params, **parse_query(text)}


# Rate limit ---------------------------------------------------------------------------------


# The seed product's limit: a bucket of `capacity` requests per webhook code that drains `rate`
# requests a second; a request into a full bucket is 503 QUERY_LIMIT_EXCEEDED.
bucket = LeakyBucket()


def rate_limit() -> tuple[int, float]:
    capacity, rate = getattr(settings, "BITRIX24_RATE_LIMIT", (50, 2.0))
    return int(capacity), float(rate)


def check_rate(key: str) -> None:
    capacity, rate = rate_limit()
    if not bucket.allow(key, capacity, rate):
        raise B24Error("QUERY_LIMIT_EXCEEDED", _("Too many requests"), 503)
