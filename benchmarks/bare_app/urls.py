from django.db import connection, transaction
from django.urls import path
from django.utils import timezone
from ninja import NinjaAPI, Schema

TABLE = "bench_bare_row"
api = NinjaAPI(urls_namespace="bare")


class RowIn(Schema):
    external_message_id: str
    text: str = ""


@api.post("/messages", response={201: dict})
def post_message(request, payload: RowIn):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TABLE} (external_id, text, created_at) VALUES (%s, %s, %s)",
            [payload.external_message_id, payload.text, timezone.now()],
        )
    return 201, {"ok": True}


urlpatterns = [path("", api.urls)]
