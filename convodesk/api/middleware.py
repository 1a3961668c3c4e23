"""A request body over the size limit is refused before anything reads it: 413, never a 500.

Django refuses bodies over `DATA_UPLOAD_MAX_MEMORY_SIZE` by raising RequestDataTooBig where the
body is first read. Read by django-ninja before its own error handling, that became a 500 on the
API; read by the CSRF check of a form post, a 400. This middleware reads the body first (as every
view would) and answers 413 itself: the JSON error shape on the API and the connector
endpoints, a plain page elsewhere. Multipart bodies are left to Django: their files are streamed
to disk and do not count against the limit.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from django.utils.translation import gettext as _

from .errors import respond

JSON_PREFIXES = ("/api/", "/connectors/")


def too_large(request) -> HttpResponse:
    message = _("The request body is too large.")
    if request.path.startswith(JSON_PREFIXES):
        return respond(413, "too_large", message)
    return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")


def _declared_length(request) -> int | None:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None


class RequestSizeLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        multipart = request.content_type == "multipart/form-data"
        if limit is not None and not multipart:
            length = _declared_length(request)
            if length is not None and length > limit:
                return too_large(request)
            try:
                request.body  # noqa: B018 - reads (and size-checks) a chunked body too
            except RequestDataTooBig:
                return too_large(request)
        return self.get_response(request)
