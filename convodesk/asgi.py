import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convodesk.settings")

from channels.routing import ProtocolTypeRouter  # noqa: E402

from convodesk.handlers import http_application  # noqa: E402

django_asgi_app = http_application()

from convodesk import routing  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": routing.websocket_application(),
    }
)
