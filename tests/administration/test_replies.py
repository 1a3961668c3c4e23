"""Settings › Quick replies (shared and personal, shortcut, placeholders filled in the composer)
and Settings › API tokens (every token listed with its last use, one made for an integration
shown once, revoke) — each change through one audited service."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from convodesk.accounts.models import User
from convodesk.api.models import ApiToken
from convodesk.audit.models import AuditEntry
from convodesk.workspace.models import QuickReply
from tests import factories as f
from tests.api.conftest import Api, token_for


@pytest.fixture
def admin_client(org):
    client = Client()
    client.force_login(org.admin)
    return client


# Quick replies -------------------------------------------------------------------------


def test_an_administrator_adds_a_shared_and_a_personal_quick_reply(org, admin_client):
    response = admin_client.post(
        "/settings/quick-replies/new/",
        {
            "title": "Greeting",
            "shortcut": "hello",
            "text": "Hello {client_name}, this is {employee_name}.",
            "line": org.line.pk,
            "owner": "",
        },
    )
    assert response.status_code == 302
    admin_client.post(
        "/settings/quick-replies/new/",
        {"title": "Mine", "shortcut": "bye", "text": "Bye!", "line": "", "owner": org.op2.pk},
    )
    shared, personal = QuickReply.objects.order_by("id")
    assert (shared.owner, shared.line, shared.shortcut) == (None, org.line, "hello")
    assert (personal.owner, personal.line) == (org.op2, None)
    html = admin_client.get("/settings/quick-replies/").content.decode()
    assert "/hello" in html and "Shared" in html and org.op2.name in html
    entry = AuditEntry.objects.get(object_type="quickreply", object_id=str(shared.pk))
    assert entry.action == "create" and entry.after["shortcut"] == "hello"


def test_a_quick_reply_without_text_or_with_a_taken_shortcut_is_refused_beside_the_field(
    org, admin_client
):
    QuickReply.objects.create(title="Old", text="x", shortcut="hello")
    response = admin_client.post(
        "/settings/quick-replies/new/",
        {"title": "New", "shortcut": "hello", "text": "  ", "line": "", "owner": ""},
    )
    assert response.status_code == 400
    html = response.content.decode()
    text_block = html[html.index('id="field-text"') :]
    assert "required" in text_block[: text_block.index("</div>")]
    response = admin_client.post(
        "/settings/quick-replies/new/",
        {"title": "New", "shortcut": "hello", "text": "Hi", "line": "", "owner": ""},
    )
    html = response.content.decode()
    block = html[html.index('id="field-shortcut"') :]
    assert "has this shortcut" in block[: block.index("</div>")]
    assert QuickReply.objects.count() == 1


def test_the_composer_fills_in_the_client_and_employee_names(org, client):
    conv = f.client_message(org.conn, "ana-qr", "hi", name="Ana García").conversation
    QuickReply.objects.create(
        line=org.line, title="Greeting", text="Hello {client_name}, this is {employee_name}."
    )
    QuickReply.objects.create(title="Op2 only", text="op2-personal {employee_name}", owner=org.op2)
    QuickReply.objects.create(title="Op1 own", text="I am {employee_name}", owner=org.op1)
    client.force_login(org.op1)
    page = client.get(f"/contact-center/workspace/?c={conv.pk}").content.decode()
    assert f'data-quick="Hello Ana García, this is {org.op1.name}."' in page
    assert f'data-quick="I am {org.op1.name}"' in page  # own, for every channel
    assert "op2-personal" not in page  # another employee's personal reply is not offered
    assert "{client_name}" not in page


# API tokens ----------------------------------------------------------------------------


def test_every_token_is_listed_with_its_owner_and_last_use(
    org, admin_client, django_capture_on_commit_callbacks
):
    plain = token_for(org.op1)
    with django_capture_on_commit_callbacks(execute=True):  # the last use is noted after commit
        assert Api(plain).get("/me")[0] == 200
    html = admin_client.get("/settings/api-tokens/").content.decode()
    token = ApiToken.objects.get(user=org.op1)
    row = html[html.index(f'data-token="{token.pk}"') :]
    row = row[: row.index("</tr>")]
    assert token.prefix in row and org.op1.name in row and "never" not in row
    assert plain not in html


def test_a_token_for_a_new_integration_is_shown_once_then_revoked(org, admin_client):
    role = f.role("Chief executive")
    response = admin_client.post(
        "/settings/api-tokens/new/",
        {"owner": "", "new_integration": "crm-sync", "role": role.pk, "name": "CRM"},
    )
    html = response.content.decode()
    integration = User.objects.get(username="crm-sync")
    assert integration.is_integration and list(integration.roles.all()) == [role]
    token = ApiToken.objects.get(user=integration)
    start = html.index('id="pp-token-value"')
    plain = html[start:].split('value="', 1)[1].split('"', 1)[0]
    assert plain.startswith(token.prefix) and Api(plain).get("/me")[0] == 200
    assert plain not in admin_client.get("/settings/api-tokens/").content.decode()
    entries = AuditEntry.objects.filter(object_type="apitoken", object_id=str(token.pk))
    assert plain not in json.dumps([[e.before, e.after] for e in entries])
    admin_client.post(f"/settings/api-tokens/{token.pk}/revoke/")
    assert Api(plain).get("/me")[0] == 401
    assert AuditEntry.objects.filter(object_id=str(token.pk), action="deactivate").count() == 1


def test_a_token_needs_an_integration_account(org, admin_client):
    response = admin_client.post("/settings/api-tokens/new/", {"owner": "", "name": "x"})
    assert response.status_code == 400
    html = response.content.decode()
    block = html[html.index('id="field-owner"') :]
    assert "Choose an integration account" in block[: block.index("</div>")]
    taken = admin_client.post(
        "/settings/api-tokens/new/", {"owner": "", "new_integration": "op1", "name": "x"}
    )
    html = taken.content.decode()
    block = html[html.index('id="field-new_integration"') :]
    assert "taken" in block[: block.index("</div>")]
    assert not ApiToken.objects.exists()
