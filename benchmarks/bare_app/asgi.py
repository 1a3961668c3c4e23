import os

os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.bare_app.settings"

from django.core.asgi import get_asgi_application  # noqa: E402
from django.db import connection  # noqa: E402

application = get_asgi_application()


def create_table() -> None:
    pk = (
        "BIGSERIAL PRIMARY KEY"
        if connection.vendor == "postgresql"
        else "INTEGER PRIMARY KEY AUTOINCREMENT"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS bench_bare_row (id {pk}, external_id varchar(255) NOT NULL UNIQUE, "
            "text text NOT NULL, created_at timestamp with time zone NOT NULL)"
        )
    connection.close()
