"""The audit log: each recorded settings change is listed with who, when, before and after, and
no secret ever reaches it."""

import pytest

from convodesk import crypto
from convodesk.audit import log
from convodesk.audit.models import AuditEntry
from tests import factories as f


@pytest.mark.django_db
def test_a_recorded_change_names_who_and_what_and_masks_secrets_at_any_depth():
    admin = f.employee("boss", superuser=True)
    line = f.line("Support")
    conn = f.connection(line, "email")
    before = {"name": "Mail", "config": {"imap": {"host": "a", "password": "old-pw"}}}
    after = {"name": "Mailbox", "config": {"imap": {"host": "b", "password": "new-pw"}}}
    entry = log.record(admin, AuditEntry.Action.UPDATE, conn, before, after)
    entry.refresh_from_db()
    assert entry.actor == admin and entry.object_type == "connection"
    assert "old-pw" not in str(entry.before) and "new-pw" not in str(entry.after)
    assert entry.after["config"]["imap"] == {"host": "b", "password": crypto.MASK}
    assert [c[0] for c in entry.changes()] == ["config", "name"]


@pytest.mark.django_db
def test_a_snapshot_leaves_encrypted_secrets_and_their_hashes_out():
    conn = f.connection(f.line("Support"), "api")
    data = log.snapshot(conn)
    assert data["name"] == conn.name and data["line_id"] == conn.line_id
    assert not {"secret_encrypted", "secret_hash"} & set(data)


@pytest.mark.django_db
def test_the_settings_link_and_the_audit_log_are_for_administrators_only(client):
    admin = f.employee("boss", superuser=True)
    operator = f.employee("op")
    log.record(admin, AuditEntry.Action.CREATE, f.line("Sales"), {}, {"name": "Sales"})
    client.force_login(operator)
    assert 'href="/settings/"' not in client.get("/contact-center/conversations/").content.decode()
    assert client.get("/settings/audit/").status_code == 403
    client.force_login(admin)
    assert 'href="/settings/"' in client.get("/contact-center/conversations/").content.decode()
    from django.urls import reverse

    from convodesk.administration.sections import SECTIONS

    assert client.get("/settings/").url == reverse(SECTIONS[0][0])  # the first section
    page = client.get("/settings/audit/")
    html = page.content.decode()
    assert page.status_code == 200 and "Sales" in html and "Boss" in html
    assert "/admin/" not in html  # the Django admin is not linked from the product


@pytest.mark.django_db
def test_the_audit_log_speaks_spanish(client):
    admin = f.employee("boss", superuser=True, language="es")
    client.force_login(admin)
    assert "Registro de auditoría" in client.get("/settings/audit/").content.decode()


@pytest.mark.django_db
def test_the_audit_log_pages_keep_the_object_filter(client):
    admin = f.employee("boss", superuser=True)
    line = f.line("Sales")
    for n in range(55):
        log.record(admin, AuditEntry.Action.UPDATE, line, {"n": n}, {"n": n + 1})
    client.force_login(admin)
    html = client.get("/settings/audit/?object=line").content.decode()
    assert 'href="?object=line&amp;page=2"' in html and "Older" in html
    second = client.get("/settings/audit/?object=line&page=2").content.decode()
    assert 'href="?object=line&amp;page=1"' in second and "Newer" in second


@pytest.mark.django_db
def test_an_employees_own_tokens_are_made_and_revoked_through_the_audited_service(client):
    from convodesk.api.models import ApiToken

    op = f.employee("op")
    client.force_login(op)
    assert client.post("/account/tokens/", {"action": "create", "name": "CLI"}).status_code == 302
    token = ApiToken.objects.get(user=op)
    client.post("/account/tokens/", {"action": "revoke", "token": str(token.pk)})
    actions = list(
        AuditEntry.objects.filter(object_type="apitoken", actor=op)
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions[0] == "create" and len(actions) == 2
    assert token.token_hash not in str(AuditEntry.objects.values_list("before", "after"))


def test_the_audit_log_is_readable_through_the_api_page_by_page_with_secrets_masked(db):
    from convodesk.connectors import setup
    from tests.api.conftest import Api, token_for

    admin = f.employee("root-audit", superuser=True)
    line = f.line("Support")
    conn, _secret = setup.create_connection(
        line, "api", "CRM", {"webhook_url": "https://u:Hunter2@crm.example/h"}, actor=admin
    )
    for n in range(3):
        setup.update_connection(conn, name=f"CRM {n}", actor=admin)
    api = Api(token_for(admin))
    status, first = api.get("/audit", {"object": "connection", "limit": 2})
    assert status == 200, first
    assert [e["object_name"] for e in first["entries"]] == ["CRM 2 (API)", "CRM 1 (API)"]
    assert first["entries"][0]["actor"]["username"] == "root-audit"
    assert first["entries"][0]["before"]["name"] == "CRM 1"
    status, rest = api.get("/audit", {"object": "connection", "before": first["next_before"]})
    assert [e["action"] for e in rest["entries"]] == ["update", "create"]
    assert rest["next_before"] is None
    assert "Hunter2" not in str(first) + str(rest)
    # Employees without the settings permission may not read it; nonsense is a 422.
    assert Api(token_for(f.employee("plain"))).get("/audit")[0] == 403
    assert api.get("/audit", {"limit": 0})[0] == 422
    assert api.get("/audit", {"before": "x"})[0] == 422
