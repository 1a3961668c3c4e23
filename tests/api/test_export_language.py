"""The API's Excel export speaks the employee's language and time zone, like the list's button
and the background export, whatever language the HTTP client happens to send."""

import io

import openpyxl
from django.test import Client

from tests import factories as f

from .conftest import token_for


def _header(user, accept_language: str | None = None) -> list[str]:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token_for(user)}"}
    if accept_language:
        headers["HTTP_ACCEPT_LANGUAGE"] = accept_language
    response = Client().get(
        "/api/v1/conversations/export.xlsx", {"columns": "id,status,started_at"}, **headers
    )
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    return [book.worksheets[0].title, *next(book.worksheets[0].iter_rows(values_only=True))]


def test_the_export_is_written_in_the_employees_language_and_time_zone(org):
    f.client_message(org.conn, "c-1", "Hola")
    boss = f.employee("jefa", superuser=True, language="es", time_zone="America/Mexico_City")
    expected = ["Conversaciones", "ID", "Estado", "Inicio (America/Mexico_City)"]
    assert _header(boss) == expected
    assert _header(boss, accept_language="en-US,en;q=0.9") == expected


def test_without_a_language_of_their_own_the_request_language_is_used(org):
    org.admin.language, org.admin.time_zone = "", "Europe/Madrid"
    org.admin.save(update_fields=["language", "time_zone"])
    assert _header(org.admin)[1:] == ["ID", "Status", "Started (Europe/Madrid)"]
    assert _header(org.admin, accept_language="es")[2] == "Estado"
