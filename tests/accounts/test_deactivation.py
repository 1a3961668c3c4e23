"""Deactivating an employee ends their access at once (issue 15, item 9): the open operator
socket closes, every session is logged out and every API token answers 401, and none of it
comes back if the employee is reactivated."""

import json

from asgiref.sync import async_to_sync
from django.contrib.sessions.models import Session
from django.test import Client

from convodesk.accounts.models import User
from convodesk.api.models import ApiToken
from tests.workspace.sockets import db, operator, receive_until, session_cookie


def _patch_employee(admin_token: str, user_id: int, body: dict):
    return Client().patch(
        f"/api/v1/employees/{user_id}",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {admin_token}",
    )


def _set_active(user_id: int, active: bool) -> None:
    user = User.objects.get(pk=user_id)
    user.is_active = active
    user.save()


def test_deactivating_an_employee_through_the_api_closes_their_open_operator_socket(tdb, org):  # noqa: F811
    cookie = session_cookie(org.op1)
    _token, admin = ApiToken.issue(org.admin)

    async def scenario():
        comm = operator(cookie)
        assert (await comm.connect())[0]
        await receive_until(comm, lambda m: m["type"] == "hello")
        response = await db(lambda: _patch_employee(admin, org.op1.pk, {"active": False}))()
        assert response.status_code == 200
        closed = await receive_until(comm, lambda m: m["type"] == "__closed__", timeout=3)
        assert closed["code"] == 4401
        await comm.wait()

    async_to_sync(scenario)()


def test_a_deactivated_employee_is_refused_a_new_operator_socket(tdb, org):  # noqa: F811
    cookie = session_cookie(org.op1)
    _set_active(org.op1.pk, False)

    async def scenario():
        comm = operator(cookie)
        connected, code = await comm.connect()
        assert not connected and code == 4401

    async_to_sync(scenario)()


def test_other_employees_sockets_stay_open_when_one_is_deactivated(tdb, org):  # noqa: F811
    cookie2 = session_cookie(org.op2)

    async def scenario():
        comm = operator(cookie2)
        assert (await comm.connect())[0]
        await receive_until(comm, lambda m: m["type"] == "hello")
        await db(lambda: _set_active(org.op1.pk, False))()
        try:
            await receive_until(comm, lambda m: m["type"] == "__closed__", timeout=0.5)
        except AssertionError:
            pass
        else:
            raise AssertionError("another employee's socket was closed")
        await comm.disconnect()

    async_to_sync(scenario)()


def test_deactivation_logs_out_every_session_for_good(client, org):
    client.post("/login/", {"username": "op1", "password": "pass12345"})
    other_browser = Client()
    other_browser.force_login(org.op1)
    assert client.get("/contact-center/conversations/").status_code == 200
    keys = [client.session.session_key, other_browser.session.session_key]

    _set_active(org.op1.pk, False)
    assert not Session.objects.filter(session_key__in=keys).exists()
    _set_active(org.op1.pk, True)  # reactivated: the old sessions do not come back
    for browser in (client, other_browser):
        response = browser.get("/contact-center/conversations/")
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_deactivation_revokes_the_employees_api_tokens_for_good(org):
    _token, plain = ApiToken.issue(org.op1)
    _token2, admin = ApiToken.issue(org.admin)
    me = lambda: Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {plain}")  # noqa: E731
    assert me().status_code == 200
    assert _patch_employee(admin, org.op1.pk, {"active": False}).status_code == 200
    assert me().status_code == 401
    assert _patch_employee(admin, org.op1.pk, {"active": True}).status_code == 200
    assert me().status_code == 401
    assert ApiToken.objects.get(pk=_token.pk).revoked_at is not None
    assert me().status_code == 401 and _patch_employee(admin, org.op2.pk, {}).status_code == 200


def test_deactivating_in_the_admin_ends_the_sessions(client, org):
    browser = Client()
    browser.force_login(org.op1)
    admin = Client()
    admin.force_login(org.admin)
    page = admin.get(f"/admin/accounts/user/{org.op1.pk}/change/")
    form = page.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            data[name] = [getattr(v, "pk", v) for v in value]
        elif hasattr(value, "pk"):
            data[name] = value.pk
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        else:
            data[name] = value
    data.pop("is_active", None)
    data.update({"last_login_0": "", "last_login_1": "", "date_joined_0": "2026-01-01"})
    data["date_joined_1"] = "00:00:00"
    response = admin.post(f"/admin/accounts/user/{org.op1.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert User.objects.get(pk=org.op1.pk).is_active is False
    response = browser.get("/contact-center/conversations/")
    assert response.status_code == 302 and "/login/" in response["Location"]
