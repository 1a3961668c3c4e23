"""Convodesk under uvicorn over HTTPS on loopback, with a self-signed certificate made here
(tests/certificates.py) that the seed product's client trusts through REQUESTS_CA_BUNDLE."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from tests.workspace.server import application, free_port


class TlsUvicorn:
    def __init__(self, cert: Path, key: Path):
        import uvicorn

        self.port = free_port()
        config = uvicorn.Config(
            application(),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            ssl_certfile=str(cert),
            ssl_keyfile=str(key),
            # A client that keeps its connection open (the SDK's session after an error answer)
            # must not hold the test for the join's whole timeout.
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def domain(self) -> str:
        return f"127.0.0.1:{self.port}"

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
