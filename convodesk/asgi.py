import gc
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

# Everything loaded so far (Django, the URL map, the models, the column registry) lives as long
# as the process. Moved out of the collector's generations, it is not walked again by every full
# collection, which otherwise stopped a worker in the middle of a request (issue 17;
# BENCHMARKS.md, stop 38).
gc.freeze()
