"""Per request: an id (X-Request-ID), the log context, and the latency by route for /metrics."""

from __future__ import annotations

import re
import time
import uuid

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from . import logs, metrics

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


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
        # The request itself rides along: the formatter reads its user and its URL's
        # conversation when a line is logged (no work per request for lines never written).
        logs.context.set({"request_id": request.request_id, "_request": request})
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
