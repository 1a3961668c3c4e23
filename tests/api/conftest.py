import json as jsonlib

import pytest
from django.test import Client

from convodesk.api.models import ApiToken


class Api:
    """Calls /api/v1/ with a bearer token and returns (status, parsed JSON or raw response)."""

    def __init__(self, token: str | None = None):
        self.token = token
        self.client = Client()

    def headers(self, token):
        token = self.token if token is None else token
        return {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}

    def _parse(self, response):
        if response.get("Content-Type", "").startswith("application/json"):
            return response.status_code, jsonlib.loads(response.content or b"null")
        return response.status_code, response

    def get(self, path, params=None, token=None):
        return self._parse(self.client.get("/api/v1" + path, params or {}, **self.headers(token)))

    def send(self, method, path, body=None, token=None):
        data = jsonlib.dumps(body) if body is not None else ""
        call = getattr(self.client, method.lower())
        return self._parse(
            call(
                "/api/v1" + path, data=data, content_type="application/json", **self.headers(token)
            )
        )

    def post(self, path, body=None, token=None):
        return self.send("POST", path, body, token)

    def patch(self, path, body=None, token=None):
        return self.send("PATCH", path, body, token)

    def put(self, path, body=None, token=None):
        return self.send("PUT", path, body, token)


def token_for(user) -> str:
    return ApiToken.issue(user, "test")[1]


@pytest.fixture
def api_as():
    """api_as(user) -> an Api acting with a fresh token of that user."""
    return lambda user: Api(token_for(user))


@pytest.fixture
def anon():
    return Api()


def assert_error(status_body, status, code=None):
    got_status, body = status_body
    assert got_status == status, body
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


class WebhookReceiver:
    """A real HTTP server on 127.0.0.1 recording each POST; answers with queued statuses (then 200)."""

    def __init__(self):
        import http.server
        import threading

        receiver = self
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        self.lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "body": body}
                    )
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = WebhookReceiver()
    yield server
    server.close()


@pytest.fixture
def immediate_tasks(settings):
    settings.TASKS = {
        "default": {
            **settings.TASKS["default"],
            "BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
        }
    }
