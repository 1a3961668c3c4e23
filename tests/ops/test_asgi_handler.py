"""The HTTP side of the ASGI application runs a request's middleware and view on one thread:
the product's middleware is synchronous, so Django's async chain would hop between the event
loop and threads several times per request (`convodesk/handlers.py`)."""

from __future__ import annotations

import asyncio
import threading

import httpx
from asgiref import sync
from django.urls import reverse

from convodesk.handlers import http_application


def test_a_request_crosses_from_the_event_loop_to_a_thread_once_and_never_back(monkeypatch):
    crossings = {"to_thread": 0, "back_to_loop": 0}
    to_thread, back_to_loop = sync.SyncToAsync.__call__, sync.AsyncToSync.__call__

    async def counted_to_thread(self, *args, **kwargs):
        crossings["to_thread"] += 1
        return await to_thread(self, *args, **kwargs)

    def counted_back_to_loop(self, *args, **kwargs):
        crossings["back_to_loop"] += 1
        return back_to_loop(self, *args, **kwargs)

    monkeypatch.setattr(sync.SyncToAsync, "__call__", counted_to_thread)
    monkeypatch.setattr(sync.AsyncToSync, "__call__", counted_back_to_loop)
    seen_on = []
    from django.contrib.auth import views

    render = views.LoginView.get

    def recorded(self, request, *args, **kwargs):
        seen_on.append(threading.get_ident())
        return render(self, request, *args, **kwargs)

    monkeypatch.setattr(views.LoginView, "get", recorded)
    application = http_application()

    async def get():
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            return await c.get(reverse("login"))

    response = asyncio.run(get())

    assert response.status_code == 200
    # The outermost middleware (request id) and the innermost (django-htmx's Vary, axes) ran.
    assert response.headers["X-Request-ID"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert seen_on and seen_on[0] != threading.get_ident()
    assert crossings["back_to_loop"] == 0
    # Django's own: the request_started signal, the chain (middleware and view), the close.
    assert crossings["to_thread"] == 3
