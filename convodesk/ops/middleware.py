"""Per request: an id (X-Request-ID), the log context, and the latency by route for /metrics."""

from __future__ import annotations

import re
import time
import uuid

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from . import logs, metrics

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# URL arguments that name a conversation (the list's row actions, the workspace, the API).
CONVERSATION_KWARGS = ("conversation_id", "conversation")


def _conversation_of(route: str, kwargs: dict):
    for name in CONVERSATION_KWARGS:
        if name in kwargs:
            return kwargs[name]
    if "pk" in kwargs and ("conversations/" in route or "workspace/c/" in route):
        return kwargs["pk"]
    return None


class RequestContextMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def _begin(self, request):
        given = request.headers.get("X-Request-ID", "")
        request.request_id = given if REQUEST_ID_RE.match(given) else uuid.uuid4().hex
        logs.context.set({"request_id": request.request_id})
        return time.perf_counter()

    def _end(self, request, response, started):
        response["X-Request-ID"] = request.request_id
        match = getattr(request, "resolver_match", None)
        route = match.route if match is not None else "<unmatched>"
        metrics.observe_request(request.method, route, response.status_code, started)
        return response

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        started = self._begin(request)
        return self._end(request, self.get_response(request), started)

    async def __acall__(self, request):
        started = self._begin(request)
        return self._end(request, await self.get_response(request), started)

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = getattr(request, "user", None)
        route = request.resolver_match.route if request.resolver_match else ""
        logs.bind(
            user_id=user.pk if user is not None and user.is_authenticated else None,
            conversation_id=_conversation_of(route, view_kwargs),
        )
        return None
