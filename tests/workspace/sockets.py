"""Helpers for socket tests: communicators on the real ASGI routing, with a session cookie."""

from __future__ import annotations

import asyncio
import json

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from convodesk.routing import websocket_application

APP = websocket_application()


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def operator(cookie: str | None, last: int | None = None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    if cookie:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    path = "/ws/operator/" + (f"?last={last}" if last is not None else "")
    return WebsocketCommunicator(APP, path, headers=headers)


def widget(key: str, origin: str = "http://testserver") -> WebsocketCommunicator:
    return WebsocketCommunicator(
        APP, f"/ws/widget/{key}/", headers=[(b"origin", origin.encode()), (b"host", b"testserver")]
    )


async def _next(comm: WebsocketCommunicator, deadline: float) -> dict | None:
    """The next JSON frame, polling so that a timeout never cancels the application."""
    loop = asyncio.get_running_loop()
    while loop.time() < deadline:
        if comm.future.done():
            comm.future.result()
        if not comm.output_queue.empty():
            message = comm.output_queue.get_nowait()
            if message["type"] == "websocket.close":
                return {"type": "__closed__", "code": message.get("code")}
            if message["type"] == "websocket.send":
                return json.loads(message["text"])
            continue
        await asyncio.sleep(0.01)
    return None


async def receive_until(comm: WebsocketCommunicator, predicate, timeout: float = 3.0) -> dict:
    """The first frame matching predicate; fails after timeout."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        message = await _next(comm, deadline)
        if message is None:
            raise AssertionError("no matching message arrived in time")
        if predicate(message):
            return message


async def drain(comm: WebsocketCommunicator, wait: float = 0.6) -> list[dict]:
    """Every frame that arrives within `wait` seconds."""
    deadline = asyncio.get_running_loop().time() + wait
    got = []
    while True:
        message = await _next(comm, deadline)
        if message is None:
            return got
        got.append(message)


def db(fn):
    return sync_to_async(fn, thread_sensitive=True)
