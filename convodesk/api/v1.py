"""The REST API v1 at /api/v1/ (OpenAPI at /api/v1/openapi.json, docs at /api/v1/docs)."""

from __future__ import annotations

import json

from django.http import HttpRequest
from ninja import NinjaAPI
from ninja.parser import Parser

from . import auth, connectors, conversations, errors, events, exports, provisioning


class StrictJsonParser(Parser):
    """JSON bodies only; NUL characters (which PostgreSQL cannot store) are refused as bad input.

    Whatever this raises, django-ninja answers 400 with the exception as the cause; errors.py
    words the answer (a body nested past Python's recursion limit raises errors.TooDeep, text
    with a lone surrogate errors.NotUnicode)."""

    def parse_body(self, request: HttpRequest):
        try:
            data = json.loads(request.body)
        except RecursionError:
            raise errors.TooDeep() from None
        if "\\u0000" in request.body.decode("utf-8", "replace") or "\x00" in request.body.decode(
            "utf-8", "replace"
        ):
            raise ValueError("NUL character")
        try:  # an escaped lone surrogate ("\ud800") parses, and no database can store it
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise errors.NotUnicode() from None
        return data


api = NinjaAPI(
    title="Convodesk API",
    version="1",
    description=(
        "Token-authenticated REST API. Send `Authorization: Bearer <token>`; an employee's token acts with "
        "the employee's permissions, an integration's with its role. Connector ingestion takes the "
        'connection\'s own secret instead. Errors are `{"error": {"code", "message", "details"?}}`.'
    ),
    auth=auth.token_auth,
    urls_namespace="api-v1",
    parser=StrictJsonParser(),
)
errors.install(api)

api.add_router("/", auth.router)
api.add_router("/", provisioning.router)
api.add_router("/", exports.router)
api.add_router("/", conversations.router)
api.add_router("/", events.router)
api.add_router("/", connectors.router)

# Routers other areas write for the API (their own modules; authentication stays the API's).
from convodesk.crm.api import router as crm_router  # noqa: E402
from convodesk.stats.api import router as stats_router  # noqa: E402

api.add_router("/crm", crm_router)
api.add_router("/stats", stats_router)
