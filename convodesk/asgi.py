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

# Everything loaded so far (Django, the URL map, the models, the column registry: over 100,000
# objects) lives as long as the process. Moved out of the collector's generations, it is not
# walked again by every full collection: one of those took a request's worker 30-60 ms
# mid-request (issue 17: p99 at half load; BENCHMARKS.md).
gc.freeze()
