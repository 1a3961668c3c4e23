"""Every API error is JSON `{"error": {"code", "message", "details"?}}`, never an HTML page or a 500."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, ValidationError

from convodesk.conversations.lifecycle import IllegalTransition
from convodesk.conversations.services import NotAllowed, NotFound

log = logging.getLogger("convodesk.api")

try:  # django-ninja >= 1.5 wants an explicit Status; older ones take a (status, body) tuple
    from ninja import Status
except ImportError:  # pragma: no cover

    def Status(status_code, value):  # noqa: N802
        return status_code, value


HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_type",
    422: "validation_error",
    429: "throttled",
    502: "bad_gateway",
}


class ApiError(Exception):
    """Raised by endpoints for a specific, documented answer."""

    def __init__(self, status: int, code: str, message, details=None, headers=None):
        super().__init__(str(message))
        self.status, self.code, self.message, self.details = status, code, str(message), details
        self.headers = headers or {}


def error_body(code: str, message, details=None) -> dict:
    error = {"code": code, "message": str(message)}
    if details is not None:
        error["details"] = details
    return {"error": error}


def respond(status: int, code: str, message, details=None, headers=None) -> JsonResponse:
    return JsonResponse(error_body(code, message, details), status=status, headers=headers)


def invalid(param_errors: dict[str, str]) -> ApiError:
    """A 422 naming each bad parameter: details is {parameter: message}."""
    names = ", ".join(sorted(param_errors))
    return ApiError(
        422,
        "validation_error",
        _("Invalid parameters: %(names)s.") % {"names": names},
        param_errors,
    )


def not_found() -> ApiError:
    return ApiError(404, "not_found", _("Not found."))


def _loc_name(loc) -> str:
    skip = ("query", "body", "path", "header", "payload", "data", "file", "form")
    parts = [str(p) for p in loc if p not in skip]
    return ".".join(parts) or "body"


def _validation(request, exc: ValidationError):
    details = {}
    for err in exc.errors:
        name = _loc_name(err.get("loc", ()))
        details.setdefault(name, str(err.get("msg", "invalid")))
    return respond(
        422,
        "validation_error",
        _("Invalid parameters: %(names)s.") % {"names": ", ".join(details)},
        details,
    )


class TooDeep(ValueError):
    """A JSON body nested deeper than the parser goes (Python's recursion limit)."""


def _http_error(request, exc: HttpError):
    status = exc.status_code
    if status == 400 and str(exc).startswith("Cannot parse request body"):  # ninja's parser
        if isinstance(exc.__cause__, TooDeep):
            return respond(400, "bad_request", _("The JSON body is nested too deeply."))
        return respond(400, "bad_request", _("The request body is not JSON text the API can read."))
    if isinstance(exc, AuthenticationError) or status == 401:
        response = respond(401, "unauthenticated", _("A valid bearer token is required."))
        response["WWW-Authenticate"] = "Bearer"
        return response
    if isinstance(exc, AuthorizationError):
        return respond(403, "forbidden", _("You are not allowed to do this."))
    return respond(
        status,
        HTTP_CODES.get(status, "error"),
        exc.message if hasattr(exc, "message") else str(exc),
    )


def _server_error(request, exc: Exception):
    log.exception("API error on %s %s", request.method, request.path)
    return respond(500, "server_error", _("Something went wrong on our side."))


# The OpenAPI document: every error an operation can answer, with the error body's schema ----

ERROR_DESCRIPTIONS = {
    400: "The body is not JSON the API can read (bad_request)",
    401: "No valid bearer token (unauthenticated)",
    403: "The token's user may not do this (forbidden)",
    404: "No such object, or not visible to the token's user (not_found)",
    409: "The object's state does not allow this now (e.g. already closed, not offered to you)",
    413: "The request body is larger than the server accepts (too_large)",
    415: "A file of a type the server does not accept (unsupported_type)",
    422: "A parameter or field is invalid; details names each (validation_error)",
    429: "Too many requests: retry after the Retry-After header's seconds (throttled)",
    502: "A channel the file must be fetched from did not hand it over: retry later (bad_gateway)",
    503: "Not stored, nothing written: retry later (ingestion_failed)",
}
ERROR_SCHEMA_REF = "#/components/schemas/ErrorOut"
# Operations (by operationId) whose answer does not depend on a permission: never a 403.
NEVER_FORBIDDEN = {"me", "put_availability", "events", "list_conversations", "export_status"}


def also(*statuses: int) -> dict:
    """openapi_extra for an operation that can answer these errors besides the ones its shape
    implies (a 409 from a state check, a 503 from storage)."""
    return {"responses": {status: _error_response(status) for status in statuses}}


def worded(status: int, description: str) -> dict:
    """openapi_extra's answer `status` in an operation's own words (a 400 that is not about
    JSON, a 413 that is about one file)."""
    return {status: {**_error_response(status), "description": description}}


def _error_response(status: int) -> dict:
    return {
        "description": ERROR_DESCRIPTIONS[status],
        "content": {"application/json": {"schema": {"$ref": ERROR_SCHEMA_REF}}},
    }


def implied_statuses(operation: dict) -> set[int]:
    """The errors an operation's shape implies: every call can lack a token (401); a body can be
    unreadable (400), too large (413) or invalid (422); parameters can be invalid (422); a path id
    can name nothing (404); the rest is permission-checked (403)."""
    statuses = set()
    if operation.get("security"):
        statuses.add(401)
    if any("TokenAuth" in requirement for requirement in operation.get("security", [])):
        statuses.add(429)  # the per-token limit (auth.TokenAuth)
    parameters = operation.get("parameters", [])
    if "requestBody" in operation:
        statuses |= {400, 413, 422}
    if parameters:
        statuses.add(422)
    if any(p.get("in") == "path" for p in parameters):
        statuses.add(404)
    if operation.get("operationId") not in NEVER_FORBIDDEN:
        statuses.add(403)
    return statuses


def document_errors(schema: dict) -> dict:
    """Adds the error answers to every operation of an OpenAPI document, and the error schema."""
    from .schemas import ErrorOut

    error_schema = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(error_schema.pop("$defs", {}))
    components["ErrorOut"] = error_schema
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            for status in sorted(implied_statuses(operation)):
                responses.setdefault(status, _error_response(status))
            operation["responses"] = dict(sorted(responses.items(), key=lambda kv: int(kv[0])))
    return schema


def install(api) -> None:
    api.add_exception_handler(ValidationError, _validation)
    api.add_exception_handler(HttpError, _http_error)
    api.add_exception_handler(
        ApiError, lambda r, e: respond(e.status, e.code, e.message, e.details, e.headers)
    )
    api.add_exception_handler(Http404, lambda r, e: respond(404, "not_found", _("Not found.")))
    api.add_exception_handler(NotFound, lambda r, e: respond(404, "not_found", _("Not found.")))
    api.add_exception_handler(NotAllowed, lambda r, e: respond(403, "forbidden", e.message))
    api.add_exception_handler(
        PermissionDenied,
        lambda r, e: respond(403, "forbidden", _("You are not allowed to do this.")),
    )
    api.add_exception_handler(IllegalTransition, lambda r, e: respond(409, e.code, e.message))
    api.add_exception_handler(
        DjangoValidationError,
        lambda r, e: respond(
            422,
            "validation_error",
            "; ".join(e.messages),
            e.message_dict if hasattr(e, "error_dict") else None,
        ),
    )
    api.add_exception_handler(
        RequestDataTooBig,
        lambda r, e: respond(413, "too_large", _("The request body is too large.")),
    )
    api.add_exception_handler(Exception, _server_error)
