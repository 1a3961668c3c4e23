"""The HTTP side of the ASGI application: Django's handler, its middleware run in one thread.

Under ASGI Django builds the middleware chain in async mode. Every middleware this product uses
is synchronous or a `MiddlewareMixin` (synchronous hooks), and the views are synchronous, so an
async chain costs each request a hop into a thread at the first synchronous middleware, a hop
back to the event loop for the async-capable ones below it (`async_to_sync`), and a third into
a thread for the view. This handler builds the chain in sync mode, as under WSGI, and runs the
whole of it with one `sync_to_async` call on the request's thread. The request body is still
read, and the response still sent, on the event loop.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler


class SyncChainASGIHandler(ASGIHandler):
    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


def http_application() -> SyncChainASGIHandler:
    """What `django.core.asgi.get_asgi_application` returns, with the synchronous chain."""
    import django

    django.setup(set_prefix=False)
    return SyncChainASGIHandler()
