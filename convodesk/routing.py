"""WebSocket routes; each channel app adds its consumers here."""

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from django.urls import path

from convodesk.connectors.livechat import WidgetConsumer
from convodesk.connectors.origins import StaffOriginValidator
from convodesk.workspace.consumers import OperatorConsumer

websocket_urlpatterns = [
    path("ws/operator/", OperatorConsumer.as_asgi()),
]

# Public sockets embedded on other sites: no session; the consumer checks the connection's
# origins exactly (connectors/origins.py).
public_websocket_urlpatterns = [
    path("ws/widget/<str:key>/", WidgetConsumer.as_asgi()),
]


def websocket_application():
    # The operator's pages only: scheme, host and port exactly (connectors/origins.py).
    staff = StaffOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
    public = URLRouter(public_websocket_urlpatterns)

    async def application(scope, receive, send):
        if scope["path"].startswith("/ws/widget/"):
            return await public(scope, receive, send)
        return await staff(scope, receive, send)

    return application
