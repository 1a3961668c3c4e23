import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convodesk.settings")

from channels.routing import ProtocolTypeRouter  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from convodesk import routing  # noqa: E402
from convodesk.conversations import realtime  # noqa: E402

# The services a request calls hand their live-event hints to the loop serving it instead of
# waiting for them (`realtime.SERVING_LOOP`); the sockets' application does the same.
application = realtime.serving(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            "websocket": routing.websocket_application(),
        }
    )
)
