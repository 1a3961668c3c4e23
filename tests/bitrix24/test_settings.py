"""The settings screen: webhook codes made for an employee (shown once, then known by their first
characters), revoked at once; outbound event handlers with their application token; all audited
without the secrets; only administrators."""

from __future__ import annotations

import re

from django.test import Client

from convodesk.audit.models import AuditEntry
from convodesk.bitrix24.models import EventHandler, WebhookCode


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_administrator_makes_a_code_that_a_script_uses_until_it_is_revoked(desk):
    admin = logged_in(desk.admin)
    assert admin.get("/settings/bitrix24/").status_code == 200
    page = admin.post("/settings/bitrix24/codes/new/", {"user": desk.op1.pk, "name": "order sync"})
    assert page.status_code == 200
    html = page.content.decode()
    url = re.search(r'value="(https?://[^"]+/rest/\d+/[0-9a-f]+/)"', html).group(1)
    assert f"/rest/{desk.op1.pk}/" in url
    code = url.rstrip("/").rsplit("/", 1)[1]
    row = WebhookCode.objects.get(user=desk.op1)
    assert row.code_hash != code and code not in row.code_hash and row.prefix == code[:6]
    script = Client()
    profile = script.post(f"/rest/{desk.op1.pk}/{code}/profile.json").json()
    assert profile["result"]["ID"] == str(desk.op1.pk) and profile["result"]["ADMIN"] is False
    listing = admin.get("/settings/bitrix24/").content.decode()
    assert f"{code[:6]}…" in listing and code not in listing
    admin.post(f"/settings/bitrix24/codes/{row.pk}/revoke/")
    refused = script.post(f"/rest/{desk.op1.pk}/{code}/profile.json")
    assert refused.status_code == 401
    entries = AuditEntry.objects.filter(object_type="webhookcode")
    assert set(entries.values_list("action", flat=True)) == {"create", "deactivate"}
    assert all(code not in str(e.after) + str(e.before) for e in entries)


def test_event_handlers_are_added_edited_given_a_new_token_and_deleted(desk):
    admin = logged_in(desk.admin)
    bad = admin.post(
        "/settings/bitrix24/handlers/new/",
        {"event": "OnOpenLineSessionFinish", "handler_url": "ftp://nope", "active": "on"},
    )
    assert bad.status_code == 400 and "http(s)" in bad.content.decode()
    made = admin.post(
        "/settings/bitrix24/handlers/new/",
        {
            "event": "OnOpenLineSessionFinish",
            "handler_url": "https://hooks.example/b24",
            "active": "on",
        },
    )
    handler = EventHandler.objects.get()
    token = handler.application_token
    assert len(token) == 32 and token in made.content.decode()
    assert token not in handler.token_encrypted
    edited = admin.post(
        f"/settings/bitrix24/handlers/{handler.pk}/",
        {"handler_url": "https://hooks.example/v2", "connector": ""},
    )
    assert edited.status_code == 302
    handler.refresh_from_db()
    assert handler.handler_url == "https://hooks.example/v2" and handler.active is False
    assert handler.event == "OnOpenLineSessionFinish"  # the event itself is not changed
    desk.rest(desk.admin).call("imconnector.register", {"ID": "shopchat", "NAME": "Shop chat"})
    desk.rest(desk.admin).call(
        "imconnector.activate", {"CONNECTOR": "shopchat", "LINE": desk.line.pk}
    )
    overview = admin.get("/settings/bitrix24/").content.decode()
    assert "https://hooks.example/v2" in overview and token not in overview
    assert "Shop chat" in overview and "Support" in overview  # the connector and its open channel
    rotated = admin.post(f"/settings/bitrix24/handlers/{handler.pk}/rotate/")
    handler.refresh_from_db()
    assert (
        handler.application_token != token and handler.application_token in rotated.content.decode()
    )
    admin.post(f"/settings/bitrix24/handlers/{handler.pk}/delete/")
    assert not EventHandler.objects.exists()
    actions = AuditEntry.objects.filter(object_type="eventhandler").values_list("action", flat=True)
    assert set(actions) == {"create", "update", "rotate_secret", "delete"}
    assert all(token not in str(e.after) for e in AuditEntry.objects.all())


def test_only_administrators_reach_the_screen(desk):
    for user in (desk.op1, desk.chief):
        assert logged_in(user).get("/settings/bitrix24/").status_code == 403
        assert (
            logged_in(user).post("/settings/bitrix24/codes/new/", {"user": user.pk}).status_code
            == 403
        )
    assert not WebhookCode.objects.exists()
