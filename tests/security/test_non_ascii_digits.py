"""Digits that are not ASCII (issue 15, item 8): "³".isdigit() is True but int("³") raises, and
int("٣") or int("１") quietly read 3 and 1. An id, a page or a threshold in a URL, a query or a
form is ASCII 0-9 only: anything else is refused the way any other bad value is (a 4xx, a form or
filter error, or the value ignored), never a 500 and never read as another number."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.test import Client

from convodesk.api.models import ApiToken
from convodesk.conversations.normalize import parse_id
from tests import factories as f
from tests.api.conftest import Api, token_for
from tests.security.hostile import HOSTILE_DIGITS

DIGITS = [text for _label, text in HOSTILE_DIGITS]


def test_only_ascii_digits_make_an_id():
    assert parse_id("42") == 42
    assert parse_id("0") == 0
    assert parse_id("9" * 18) == 10**18 - 1
    for bad in (*DIGITS, "", " 4", "4 ", "4\n", "-4", "+4", "4.0", "9" * 19, "0x10", None, 4.0):
        assert parse_id(bad) is None, bad
    assert parse_id("12345", max_digits=4) is None


@pytest.fixture
def world(db, settings):
    settings.TASKS = {
        "default": {
            **settings.TASKS["default"],
            "BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
        }
    }
    f.role("Manager")
    admin = f.employee("digits-admin", superuser=True)
    op = f.employee("digits-op", roles=["Manager"])
    line = f.line("Digits line", members=[op])
    conn = f.connection(line, "api")
    conv = f.client_message(conn, "digits-client", "Hello").conversation
    return {"admin": admin, "op": op, "line": line, "conv": conv}


HTML_GETS = [
    ("/contact-center/conversations/", "q"),
    ("/contact-center/conversations/", "id"),
    ("/contact-center/conversations/", "line"),
    ("/contact-center/conversations/", "responsible"),
    ("/contact-center/conversations/", "client_id"),
    ("/contact-center/conversations/", "per_page"),
    ("/contact-center/conversations/", "page"),
    ("/contact-center/conversations/", "waiting_min"),
    ("/contact-center/conversations/", "duration_min"),
    ("/contact-center/conversations/rows/", "ids"),
    ("/contact-center/conversations/export/", "q"),
    ("/contact-center/statistics/", "sl"),
    ("/contact-center/statistics/", "q"),
    ("/contact-center/statistics/", "id"),
    ("/contact-center/workspace/", "c"),
    ("/contact-center/workspace/", "q"),
    ("/contact-center/workspace/list/", "q"),
    ("/crm/leads/", "q"),
    ("/crm/contacts/", "q"),
    ("/crm/deals/", "q"),
    ("/crm/companies/", "q"),
    ("/crm/activities/", "q"),
]

API_GETS = [
    ("/conversations", "q"),
    ("/conversations", "id"),
    ("/conversations", "client_id"),
    ("/conversations", "line"),
    ("/conversations", "responsible"),
    ("/conversations", "waiting_min"),
    ("/conversations/export.xlsx", "q"),
    ("/conversations/export.xlsx", "id"),
    ("/stats", "q"),
    ("/stats", "id"),
    ("/stats", "sl"),
    ("/crm/contacts", "q"),
    ("/crm/leads", "q"),
]


def _query(param: str, value: str) -> str:
    return f"{param}={quote(value, safe='')}"


@pytest.mark.parametrize("digit", DIGITS)
def test_non_ascii_digits_in_a_screens_query_never_give_a_500(world, digit):
    client = Client()
    client.force_login(world["admin"])
    for path, param in HTML_GETS:
        for value in (digit, f"#{digit}", f"1{digit}"):
            response = client.get(path, QUERY_STRING=_query(param, value))
            assert response.status_code < 500, (path, param, value, response.status_code)
    rebind = f"/crm/conversations/{world['conv'].pk}/rebind/"
    response = client.get(rebind, QUERY_STRING=_query("q", digit))
    assert response.status_code < 500, (rebind, response.status_code)


@pytest.mark.parametrize("digit", DIGITS)
def test_non_ascii_digits_in_an_api_query_never_give_a_500(world, digit):
    api = Api(token_for(world["admin"]))
    for path, param in API_GETS:
        for value in (digit, f"#{digit}"):
            response = api.client.get(
                "/api/v1" + path, QUERY_STRING=_query(param, value), **api.headers(None)
            )
            assert response.status_code < 500, (path, param, value, response.status_code)
            if response.status_code >= 400:
                assert set(response.json()) == {"error"}, (path, response.content[:200])


@pytest.mark.parametrize("digit", DIGITS)
def test_non_ascii_digits_posted_in_a_form_never_give_a_500(world, digit):
    admin, op, conv = world["admin"], world["op"], world["conv"]
    client = Client()
    client.force_login(admin)
    ApiToken.issue(admin, "kept")
    response = client.post("/account/tokens/", {"action": "revoke", "token": digit})
    assert response.status_code < 500
    assert ApiToken.objects.filter(user=admin, revoked_at__isnull=True).exists()
    response = client.post(
        "/contact-center/conversations/bulk/", {"action": "close", "ids": [digit]}
    )
    assert response.status_code == 400
    response = client.post(
        "/contact-center/conversations/bulk/",
        {"action": "transfer", "ids": [str(conv.pk)], "transfer_to": f"employee:{digit}"},
    )
    assert response.status_code == 400
    from convodesk.conversations import services

    services.take(conv.pk, f.act(op))
    operator = Client()
    operator.force_login(op)
    for field in ("employee", "line"):
        response = operator.post(
            f"/contact-center/workspace/c/{conv.pk}/transfer/",
            {field: digit},
            HTTP_HX_REQUEST="true",
        )
        assert response.status_code == 400, (field, response.status_code)
    conv.refresh_from_db()
    assert conv.responsible_id == op.pk


@pytest.mark.parametrize(("digit", "lookalike"), [("٣", 3), ("１", 1), ("٤٢", 42), ("４２", 42)])
def test_a_digit_of_another_script_is_not_read_as_that_number(world, digit, lookalike):
    """int("٣") is 3: the filter must not quietly answer for conversation #3."""
    api = Api(token_for(world["admin"]))
    response = api.client.get(
        "/api/v1/conversations", QUERY_STRING=_query("id", digit), **api.headers(None)
    )
    assert response.status_code == 422, response.content[:300]
    assert "id" in response.json()["error"]["details"], response.json()
    assert api.get("/conversations", {"id": lookalike})[0] == 200  # the ASCII number is fine
    response = api.client.get(
        "/api/v1/conversations", QUERY_STRING=_query("waiting_min", digit), **api.headers(None)
    )
    assert response.status_code == 422, response.content[:300]
    client = Client()
    client.force_login(world["admin"])
    page = client.get("/contact-center/conversations/", QUERY_STRING=_query("id", digit))
    assert page.status_code == 200
    assert "The conversation ID must be a number." in page.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("digit", DIGITS)
def test_non_ascii_digits_posted_to_the_settings_never_give_a_500_nor_read_as_numbers(world, digit):
    from convodesk.accounts.models import Role
    from convodesk.lines.models import Line

    client = Client()
    client.force_login(world["admin"])
    response = client.post("/settings/roles/new/", {"name": "Digits", "view_conversations": digit})
    assert response.status_code in (200, 400)  # the form again, the bad level refused
    assert not Role.objects.filter(name="Digits").exists()
    response = client.post(
        "/settings/lines/new/",
        {"name": "Digits new line", "members": [digit], "queue_timeout_seconds": digit},
    )
    assert response.status_code in (200, 400)  # the form again, the time-out refused
    assert not Line.objects.filter(name="Digits new line").exists()
