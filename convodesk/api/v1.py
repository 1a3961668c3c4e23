"""The REST API v1 at /api/v1/ (OpenAPI at /api/v1/openapi.json, docs at /api/v1/docs)."""

from __future__ import annotations

import json

from django.http import HttpRequest
from ninja import NinjaAPI
from ninja.parser import Parser

from convodesk.connectors.clean import clean_data

from . import auth, connectors, conversations, errors, events, exports, provisioning


class StrictJsonParser(Parser):
    """JSON bodies only, every string in them cleaned the way the connectors clean what they store.

    `"\\u0000"` and a lone `"\\ud800"` are valid JSON that no database stores (PostgreSQL refuses
    NUL, every UTF-8 encoder the lone surrogate): they become nothing and U+FFFD, through the one
    cleaning function, so an API call never half-fails on them. A body nested past Python's
    recursion limit raises errors.TooDeep, which errors.py words as a 400."""

    def parse_body(self, request: HttpRequest):
        try:
            data = json.loads(request.body)
        except RecursionError:
            raise errors.TooDeep() from None
        return clean_data(data)


class ConvodeskAPI(NinjaAPI):
    """The published document names each operation by its view (`take`, `list_conversations`:
    a generated client's function names) and declares every error it can answer."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._documents = {}

    def get_openapi_operation_id(self, operation) -> str:
        return operation.view_func.__name__

    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        """Built once per process and prefix: the operations are fixed when the URLs load, and
        the document reads the same in every language. Building it takes a noticeable fraction
        of a second, on every load of the API docs page."""
        key = (path_prefix, tuple(sorted((path_params or {}).items())))
        if key not in self._documents:
            schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
            self._documents[key] = errors.document_errors(schema)
        return self._documents[key]


api = ConvodeskAPI(
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
from convodesk.audit.api import router as audit_router  # noqa: E402
from convodesk.crm.api import router as crm_router  # noqa: E402
from convodesk.stats.api import router as stats_router  # noqa: E402

api.add_router("/crm", crm_router)
api.add_router("/stats", stats_router)
api.add_router("/", audit_router)
