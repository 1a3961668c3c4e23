"""Log-in throttling (issue 15, item 6): django-axes locks a (username, IP) pair."""

from django.core.management import call_command
from django.test import Client

from convodesk.api.models import ApiToken

LIMIT = 5


def _fail(client, username="op1", ip="10.0.0.1"):
    return client.post(
        "/login/", {"username": username, "password": "wrong-password"}, REMOTE_ADDR=ip
    )


def test_wrong_passwords_lock_the_account_from_that_address_with_a_clear_message(client, org):
    for _ in range(LIMIT - 1):
        assert _fail(client).status_code == 200  # the form again, with its usual error
    locked = _fail(client)
    assert locked.status_code == 429
    assert "Too many failed log-in attempts" in locked.content.decode()
    # Now even the right password is refused from this address.
    right = client.post(
        "/login/", {"username": "op1", "password": "pass12345"}, REMOTE_ADDR="10.0.0.1"
    )
    assert right.status_code == 429 and "_auth_user_id" not in client.session


def test_the_lock_message_is_translated(client, org):
    for _ in range(LIMIT):
        _fail(client)
    response = client.post(
        "/login/",
        {"username": "op1", "password": "pass12345"},
        REMOTE_ADDR="10.0.0.1",
        HTTP_ACCEPT_LANGUAGE="es",
    )
    assert response.status_code == 429
    assert response["Content-Language"] == "es"


def test_the_lock_holds_only_for_that_user_and_that_address(org):
    attacker = Client()
    for _ in range(LIMIT):
        _fail(attacker, ip="10.0.0.66")
    # The same employee logs in from their own address...
    own = Client()
    response = own.post(
        "/login/", {"username": "op1", "password": "pass12345"}, REMOTE_ADDR="10.0.0.2"
    )
    assert response.status_code == 302
    # ...and another employee from the attacker's address.
    other = Client()
    response = other.post(
        "/login/", {"username": "op2", "password": "pass12345"}, REMOTE_ADDR="10.0.0.66"
    )
    assert response.status_code == 302


def test_an_administrator_unlocks_the_account(client, org):
    for _ in range(LIMIT):
        _fail(client)
    call_command("axes_reset_username", "op1")
    response = client.post(
        "/login/", {"username": "op1", "password": "pass12345"}, REMOTE_ADDR="10.0.0.1"
    )
    assert response.status_code == 302


def test_administrators_see_and_delete_the_lock_in_the_admin(client, org):
    for _ in range(LIMIT):
        _fail(client)
    admin = Client()
    admin.force_login(org.admin)
    page = admin.get("/admin/axes/accessattempt/")
    assert page.status_code == 200 and "op1" in page.content.decode()


def test_api_tokens_are_not_throttled_by_failed_log_ins(client, org):
    _token, plain = ApiToken.issue(org.op1)
    for _ in range(LIMIT + 2):
        _fail(client, ip="127.0.0.1")
    response = Client().get(
        "/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {plain}", REMOTE_ADDR="127.0.0.1"
    )
    assert response.status_code == 200


def _api_post(token, path, body, method="post"):
    return getattr(Client(), method)(
        "/api/v1" + path,
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_api_created_employees_cannot_get_a_common_or_look_alike_password(org):
    _token, admin = ApiToken.issue(org.admin)
    for username, password in [
        ("maria", "password123"),  # a well-known password
        ("mariagarcia", "mariagarcia1"),  # too close to the username
        ("maria2", "48151623420"),  # digits only
    ]:
        response = _api_post(admin, "/employees", {"username": username, "password": password})
        assert response.status_code == 422, (username, password)
        assert "password" in response.json()["error"]["details"]
    response = _api_post(
        admin, f"/employees/{org.op1.pk}", {"password": "password123"}, method="patch"
    )
    assert response.status_code == 422 and "password" in response.json()["error"]["details"]
    response = _api_post(admin, "/employees", {"username": "maria", "password": "tidal-lantern-93"})
    assert response.status_code == 201
