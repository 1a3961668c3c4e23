"""A small local server speaking the Telegram Bot API's request and response shapes."""

import email
import email.policy
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _form(content_type: str, raw: bytes) -> dict:
    """A multipart form as the Bot API reads it: fields as text, a file as
    {"filename", "content_type", "content"}."""
    parsed = email.message_from_bytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw, policy=email.policy.HTTP
    )
    params = {}
    for part in parsed.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if part.get_filename() is not None:
            params[name] = {
                "filename": part.get_filename(),
                "content_type": part.get_content_type(),
                "content": part.get_payload(decode=True),
            }
        else:
            params[name] = part.get_payload(decode=True).decode()
    return params


class FakeBotApi:
    def __init__(self, token: str = "123456:TEST-TOKEN-0123456789abcdefghij"):
        self.token = token
        self.calls: list[tuple[str, dict]] = []
        self.scripted: dict[str, list[tuple[int, dict]]] = {}
        self.updates: list[dict] = []
        self.next_message_id = 1000
        self.files: dict[str, bytes] = {}  # file_path -> bytes, served at /file/bot<token>/…
        self.file_paths: dict[str, str] = {}  # file_id -> file_path getFile answers (a default)
        self.profile_photos: list[list[dict]] = []  # getUserProfilePhotos' "photos"
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    def script(self, method: str, status: int, body: dict):
        """The next call of `method` answers this instead of the default."""
        self.scripted.setdefault(method, []).append((status, body))

    def calls_of(self, method: str) -> list[dict]:
        return [params for name, params in self.calls if name == method]

    def _answer(self, method: str, params: dict):
        if self.scripted.get(method):
            return self.scripted[method].pop(0)
        if method == "getMe":
            return 200, {
                "ok": True,
                "result": {
                    "id": 123456,
                    "is_bot": True,
                    "first_name": "Test Bot",
                    "username": "test_bot",
                },
            }
        if method in ("setWebhook", "deleteWebhook"):
            return 200, {"ok": True, "result": True, "description": "Webhook was set"}
        if method in ("sendDocument", "sendPhoto"):
            self.next_message_id += 1
            return 200, {
                "ok": True,
                "result": {
                    "message_id": self.next_message_id,
                    "date": 1700000000,
                    "chat": {"id": int(params["chat_id"]), "type": "private"},
                },
            }
        if method == "sendMessage":
            self.next_message_id += 1
            return 200, {
                "ok": True,
                "result": {
                    "message_id": self.next_message_id,
                    "date": 1700000000,
                    "chat": {"id": int(params["chat_id"]), "type": "private"},
                    "text": params.get("text", ""),
                },
            }
        if method == "getUpdates":
            offset = int(params.get("offset") or 0)
            return 200, {
                "ok": True,
                "result": [u for u in self.updates if u["update_id"] >= offset],
            }
        if method == "getUserProfilePhotos":
            photos = self.profile_photos[: int(params.get("limit") or 100)]
            return 200, {
                "ok": True,
                "result": {"total_count": len(self.profile_photos), "photos": photos},
            }
        if method == "getFile":
            path = self.file_paths.get(params["file_id"], "photos/file_1.jpg")
            return 200, {"ok": True, "result": {"file_id": params["file_id"], "file_path": path}}
        return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}

    def _handler(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                path = urllib.parse.urlparse(self.path).path
                prefix = f"/bot{api.token}/"
                if not path.startswith(prefix):
                    return self._send(
                        401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
                    )
                method = path[len(prefix) :]
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    params = json.loads(raw or b"{}")
                elif self.headers.get("Content-Type", "").startswith("multipart/form-data"):
                    params = _form(self.headers["Content-Type"], raw)
                else:
                    params = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode()).items()}
                api.calls.append((method, params))
                status, body = api._answer(method, params)
                self._send(status, body)

            def do_GET(self):
                path = urllib.parse.urlparse(self.path).path
                prefix = f"/file/bot{api.token}/"
                content = api.files.get(path[len(prefix) :]) if path.startswith(prefix) else None
                if content is None:
                    return self._send(404, {"ok": False, "error_code": 404})
                self.send_response(200)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def _send(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def update(
    update_id: int, text: str = "Hello", user_id: int = 777, message_id: int | None = None, **extra
) -> dict:
    message = {
        "message_id": message_id or update_id,
        "date": 1700000000 + update_id,
        "chat": {"id": user_id, "type": "private", "first_name": "Iván"},
        "from": {
            "id": user_id,
            "is_bot": False,
            "first_name": "Iván",
            "last_name": "Petrov",
            "username": "ivanp",
            "language_code": "es",
        },
        "text": text,
        **extra,
    }
    if "text" in extra and extra["text"] is None:
        message.pop("text")
    return {"update_id": update_id, "message": message}
