"""The real ASGI application (HTTP + WebSockets) under uvicorn, in a thread of the test process,
on the test database; static files served as in development."""

from __future__ import annotations

import os
import socket
import threading
import time

from tests.browser import CHROMIUM, CHROMIUM_ARGS, require_chromium  # noqa: F401 - re-exported

IN_CI = os.environ.get("CI", "").lower() == "true"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def application():
    from channels.routing import ProtocolTypeRouter
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    from convodesk import routing
    from convodesk.handlers import http_application

    return ProtocolTypeRouter(
        {
            "http": ASGIStaticFilesHandler(http_application()),
            "websocket": routing.websocket_application(),
        }
    )


class ThreadedUvicorn:
    def __init__(self):
        import uvicorn

        self.port = free_port()
        config = uvicorn.Config(
            application(),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,  # open browser or socket connections end the test anyway
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=10)
