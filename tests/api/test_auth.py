"""Tokens: who may call what, and the token lifecycle (command, profile page, admin)."""

import io

import pytest
from django.core.management import CommandError, call_command

from convodesk.accounts.models import User
from convodesk.api.models import ApiToken
from tests import factories as f

from .conftest import Api, assert_error, token_for

pytestmark = pytest.mark.django_db


def test_requests_without_a_token_get_a_json_401(org, anon):
    for path in ("/me", "/conversations", "/events", "/departments", "/conversations/1"):
        error = assert_error(anon.get(path), 401, "unauthenticated")
        assert "token" in error["message"].lower()


def test_an_unknown_or_revoked_token_is_refused(org):
    assert_error(Api("cdk_not-a-token").get("/me"), 401)
    token, plain = ApiToken.issue(org.op1, "x")
    assert Api(plain).get("/me")[0] == 200
    token.revoke()
    assert_error(Api(plain).get("/me"), 401)


def test_a_token_of_a_deactivated_employee_stops_working(org):
    plain = token_for(org.op1)
    org.op1.is_active = False
    org.op1.save()
    assert_error(Api(plain).get("/me"), 401)


def test_me_answers_as_the_tokens_employee_with_their_levels(org, api_as):
    status, body = api_as(org.supervisor).get("/me")
    assert status == 200
    assert body["username"] == "supervisor" and body["is_integration"] is False
    assert body["levels"]["view_conversations"] == 20


def test_a_connection_secret_cannot_call_anything_but_ingestion(org):
    as_connection = Api(org.conn.secret)
    assert_error(as_connection.get("/conversations"), 401)
    assert_error(as_connection.get("/me"), 401)
    assert_error(as_connection.post("/conversations/1/take"), 401)


def test_an_employee_token_cannot_post_client_messages(org, api_as):
    body = {"external_message_id": "m1", "client": {"external_id": "c1", "name": "C"}, "text": "hi"}
    assert_error(api_as(org.admin).post(f"/connectors/{org.conn.pk}/messages", body), 401)


def test_availability_is_set_through_the_api_and_validated(org, api_as):
    api = api_as(org.op1)
    status, body = api.put("/me/availability", {"status": "away"})
    assert (status, body) == (200, {"status": "away"})
    org.op1.refresh_from_db()
    assert org.op1.availability == "away"
    error = assert_error(
        api.put("/me/availability", {"status": "sleeping"}), 422, "validation_error"
    )
    assert "status" in error["details"]
    assert_error(Api().put("/me/availability", {"status": "online"}), 401)


def test_api_token_command_creates_an_employee_token_printed_once(org):
    out = io.StringIO()
    call_command("api_token", "create", "op1", stdout=out, stderr=io.StringIO())
    plain = out.getvalue().strip()
    assert plain.startswith("cdk_")
    assert not ApiToken.objects.filter(token_hash=plain).exists()  # stored hashed
    status, body = Api(plain).get("/me")
    assert status == 200 and body["username"] == "op1"


def test_api_token_command_creates_an_integration_with_its_role(org):
    out = io.StringIO()
    call_command(
        "api_token",
        "create",
        "--integration",
        "crm",
        "--role",
        "Chief executive",
        stdout=out,
        stderr=io.StringIO(),
    )
    user = User.objects.get(username="integration-crm")
    assert user.is_integration and list(user.roles.values_list("name", flat=True)) == [
        "Chief executive"
    ]
    assert not user.has_usable_password()
    status, body = Api(out.getvalue().strip()).get("/me")
    assert (
        status == 200
        and body["is_integration"] is True
        and body["levels"]["view_conversations"] == 30
    )


def test_api_token_command_refuses_bad_input(org):
    with pytest.raises(CommandError):
        call_command("api_token", "create", "nobody", stdout=io.StringIO(), stderr=io.StringIO())
    with pytest.raises(CommandError):
        call_command(
            "api_token",
            "create",
            "--integration",
            "x",
            "--role",
            "No such role",
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    with pytest.raises(CommandError):
        call_command(
            "api_token", "create", "--integration", "x", stdout=io.StringIO(), stderr=io.StringIO()
        )


def test_api_token_command_revokes_by_token_value(org):
    plain = token_for(org.op2)
    out = io.StringIO()
    call_command("api_token", "revoke", plain, stdout=out)
    assert "Revoked" in out.getvalue()
    assert_error(Api(plain).get("/me"), 401)
    with pytest.raises(CommandError):
        call_command("api_token", "revoke", plain, stdout=io.StringIO())


def test_profile_page_creates_a_token_shown_once_and_revokes_it(org, client):
    client.force_login(org.op1)
    page = client.post("/account/tokens/", {"action": "create", "name": "my script"}, follow=True)
    assert page.status_code == 200 and page.redirect_chain == [("/account/tokens/", 302)]
    token = ApiToken.objects.get(user=org.op1)
    plain = page.context["new_token"]
    assert plain.startswith(token.prefix) and plain.encode() in page.content
    assert Api(plain).get("/me")[0] == 200
    again = client.get("/account/tokens/")
    assert plain.encode() not in again.content and b"my script" in again.content
    client.post("/account/tokens/", {"action": "revoke", "token": str(token.pk)})
    assert_error(Api(plain).get("/me"), 401)


def test_profile_page_never_revokes_someone_elses_token(org, client):
    other, plain = ApiToken.issue(org.op2, "theirs")
    client.force_login(org.op1)
    client.post("/account/tokens/", {"action": "revoke", "token": str(other.pk)})
    assert Api(plain).get("/me")[0] == 200
    assert b"theirs" not in client.get("/account/tokens/").content


def test_profile_page_requires_login(client):
    response = client.get("/account/tokens/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_unknown_api_paths_answer_json_404(org, api_as):
    assert_error(api_as(org.admin).get("/no-such-thing"), 404, "not_found")


def test_integration_token_from_factory_acts_with_its_role(org):
    integration = f.integration("sync", "Chief executive")
    status, body = Api(token_for(integration)).get("/conversations")
    assert status == 200 and body["items"] == []


def test_an_administrator_creates_an_integration_token_in_the_admin(org, client):
    integration = f.integration("erp", "Chief executive")
    client.force_login(org.admin)
    response = client.post(
        "/admin/api/apitoken/add/", {"user": integration.pk, "name": "erp sync"}, follow=True
    )
    assert response.status_code == 200
    token = ApiToken.objects.get(user=integration)
    [message] = [str(m) for m in response.context["messages"] if "shown only once" in str(m)]
    plain = message.rsplit(" ", 1)[-1]
    assert plain.startswith(token.prefix)
    status, body = Api(plain).get("/me")
    assert status == 200 and body["is_integration"] is True
