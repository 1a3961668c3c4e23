"""Which page origins may open a socket: exact scheme, host and port (issue 15, item 9).

A browser names the page that opens a WebSocket in its `Origin` header. The installation's own
origin is the one it is published at (`PUBLIC_URL`) and the one the socket was opened on (its
scheme and its `Host`, when that host is one of `ALLOWED_HOSTS`). The operator socket accepts
only those (and `CSRF_TRUSTED_ORIGINS`, the origins Django already trusts for forms); a widget
accepts them and the origins listed on its connection. Nothing matches by host alone: another
port or the other scheme is another site.
"""

from __future__ import annotations

from django.conf import settings
from django.http.request import split_domain_port, validate_host


def _normalised(value: str) -> str | None:
    from .setup import normalise_origin  # setup imports the connectors, this one among them

    try:
        return normalise_origin(value)
    except ValueError:
        return None


def header(scope, name: bytes) -> str:
    for key, value in scope.get("headers") or []:
        if key == name:
            return value.decode("latin-1")
    return ""


def own_origins(scope) -> set[str]:
    origins = set()
    public = (settings.CONVODESK.get("PUBLIC_URL") or "").strip()
    if public:
        from urllib.parse import urlsplit

        parts = urlsplit(public)
        origin = _normalised(f"{parts.scheme}://{parts.netloc}") if parts.netloc else None
        if origin:
            origins.add(origin)
    host = header(scope, b"host")
    domain, _port = split_domain_port(host)
    allowed = settings.ALLOWED_HOSTS or (
        ["localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else []
    )
    if domain and validate_host(domain, allowed):
        scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"
        origin = _normalised(f"{scheme}://{host}")
        if origin:
            origins.add(origin)
    return origins


def origin_of(scope) -> str | None:
    """The socket's Origin header in normal form; None when absent or not an origin."""
    value = header(scope, b"origin")
    return _normalised(value) if value else None


def staff_origin_allowed(scope) -> bool:
    origin = origin_of(scope)
    if origin is None:
        return False
    trusted = {o for o in (_normalised(t) for t in settings.CSRF_TRUSTED_ORIGINS) if o}
    return origin in own_origins(scope) | trusted


def widget_origin_allowed(scope, listed) -> bool:
    """A new widget (nothing listed) works only on the installation's own pages."""
    origin = origin_of(scope)
    if origin is None:
        return False
    extra = {o for o in (_normalised(v) for v in listed or [] if isinstance(v, str)) if o}
    return origin in own_origins(scope) | extra


class StaffOriginValidator:
    """ASGI wrapper refusing an operator socket opened from any other page (a 403 handshake)."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not staff_origin_allowed(scope):
            from channels.security.websocket import WebsocketDenier

            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
