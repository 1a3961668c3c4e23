"""Issue 15 item 1: an attachment link can never carry script, on the way in or on the way out."""

from __future__ import annotations

import re

import pytest
from django.template import Context, Template

from convodesk.conversations import attachments, services
from convodesk.conversations.models import Message
from tests import factories as f
from tests.api.conftest import Api, assert_error, token_for

HOSTILE_URLS = [
    "javascript:fetch('/account/tokens/')",
    "  JaVaScRiPt:alert(1)",
    "\tjavascript:alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    "jav&#x09;ascript:alert(1)",
    "\x00javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "DATA:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "//evil.example/x",
    "/relative/path",
    "https://",
    "http://exa mple.com/",
    "https://example.com/a\x00b",
]
# A NUL anywhere in a JSON body is refused before any schema (400 bad_json); tested below.
API_HOSTILE_URLS = [u for u in HOSTILE_URLS if "\x00" not in u]
GOOD_URLS = [
    "https://files.example.com/invoice.pdf",
    "http://example.com/a?b=c#d",
    " HTTPS://Example.com/x ",
]


def _message(**extra):
    return {
        "external_message_id": extra.pop("message_id", "m-1"),
        "client": {"external_id": "cust-1", "name": "Ana"},
        "text": "see attached",
        **extra,
    }


@pytest.mark.parametrize("url", API_HOSTILE_URLS)
@pytest.mark.django_db
def test_the_rest_connector_refuses_a_non_http_attachment_link_naming_the_field(org, url):
    status_body = Api(org.conn.secret).post(
        f"/connectors/{org.conn.pk}/messages",
        _message(attachments=[{"url": "https://ok.example/x", "name": "ok"}, {"url": url}]),
    )
    error = assert_error(status_body, 422, "validation_error")
    assert "attachments.1.url" in error["details"], error
    assert not Message.objects.exists()


@pytest.mark.parametrize("url", GOOD_URLS)
@pytest.mark.django_db
def test_the_rest_connector_keeps_an_http_attachment_link(org, url):
    status, body = Api(org.conn.secret).post(
        f"/connectors/{org.conn.pk}/messages", _message(attachments=[{"url": url, "name": "doc"}])
    )
    assert status == 201, body
    assert Message.objects.get().attachments[0]["url"] == url.strip()


@pytest.mark.parametrize("url", API_HOSTILE_URLS)
@pytest.mark.django_db
def test_an_employee_reply_refuses_a_non_http_attachment_link_naming_the_field(org, url):
    conv = f.client_message(org.conn, "c1", "hi").conversation
    services.take(conv.pk, f.act(org.op1))
    status_body = Api(token_for(org.op1)).post(
        f"/conversations/{conv.pk}/messages",
        {"text": "here you are", "attachments": [{"url": url, "name": "Your invoice"}]},
    )
    error = assert_error(status_body, 422, "validation_error")
    assert error["details"] == {"attachments.0.url": error["details"]["attachments.0.url"]}
    assert not Message.objects.filter(author_kind="employee").exists()


@pytest.mark.django_db
def test_an_employee_reply_keeps_an_http_attachment_link(org):
    conv = f.client_message(org.conn, "c1", "hi").conversation
    services.take(conv.pk, f.act(org.op1))
    status, body = Api(token_for(org.op1)).post(
        f"/conversations/{conv.pk}/messages",
        {"text": "here", "attachments": [{"url": "https://x.example/a.pdf", "name": "A"}]},
    )
    assert status == 201, body
    assert [(a["url"], a["name"]) for a in body["attachments"]] == [
        ("https://x.example/a.pdf", "A")
    ]


@pytest.mark.parametrize("url", HOSTILE_URLS)
@pytest.mark.django_db
def test_the_services_refuse_a_non_http_link_from_any_caller(org, url):
    """The last guard: a connector or view that forgot to check still cannot store the link."""
    with pytest.raises(attachments.AttachmentError) as caught:
        f.client_message(org.conn, "c1", "hi", attachments=[{"url": url}])
    assert caught.value.field == "attachments.0.url"
    conv = f.client_message(org.conn, "c1", "hi").conversation
    services.take(conv.pk, f.act(org.op1))
    with pytest.raises(attachments.AttachmentError):
        services.reply(conv.pk, f.act(org.op1), "x", attachments=[{"url": url}])
    assert Message.objects.count() == 1


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_the_safe_url_filter_turns_a_hostile_address_into_plain_text(url):
    template = Template(
        "{% load safe_links %}{% with href=url|safe_url %}"
        '{% if href %}<a href="{{ href }}">x</a>{% else %}text{% endif %}{% endwith %}'
    )
    rendered = template.render(Context({"url": url}))
    if url == "/relative/path":  # a path on this site is a safe link
        assert rendered == '<a href="/relative/path">x</a>'
    else:
        assert rendered == "text"


def _stored_anyway(message, items):
    """What older versions stored, before the check existed (a direct write, as a data fixture)."""
    Message.objects.filter(pk=message.pk).update(attachments=items)


@pytest.mark.django_db
def test_the_history_never_renders_a_stored_script_link_as_a_link(client, org):
    received = f.client_message(org.conn, "c1", "hi")
    _stored_anyway(
        received.message,
        [
            {"url": "  JaVaScRiPt:alert(document.cookie)", "name": "Invoice"},
            {"url": "data:text/html,<script>alert(1)</script>"},
            {"url": "https://files.example.com/ok.pdf", "name": "OK file"},
        ],
    )
    client.force_login(org.admin)
    response = client.get(f"/contact-center/conversations/{received.conversation.pk}/history/")
    html = response.content.decode()
    assert response.status_code == 200
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert not [h for h in hrefs if "script" in h.lower() or h.lower().startswith("data:")]
    assert (
        '<a href="https://files.example.com/ok.pdf" rel="noopener noreferrer nofollow">OK file</a>'
        in html
    )
    assert "Invoice" in html  # shown, as text


@pytest.mark.django_db
def test_the_history_renders_email_and_telegram_attachments_without_a_name(client, org):
    """The shapes mail.py and telegram.py store: no `name`, no `url` (was a 500)."""
    email_conn = f.connection(org.line, "email")
    tg_conn = f.connection(org.line, "telegram")
    mail_conv = f.client_message(
        email_conn,
        "eve@example.net",
        "Invoice attached",
        attachments=[
            {
                "type": "file",
                "file_name": "invoice.pdf",
                "mime_type": "application/pdf",
                "file_size": 13,
            }
        ],
    ).conversation
    tg_conv = f.client_message(
        tg_conn,
        "777",
        "[photo]",
        attachments=[
            {
                "type": "photo",
                "file_id": "AgAD",
                "file_unique_id": "u1",
                "width": 90,
                "height": 90,
                "file_size": 1200,
            },
            {
                "type": "voice",
                "file_id": "AwAD",
                "file_unique_id": "u2",
                "file_name": None,
                "mime_type": "audio/ogg",
                "file_size": 5,
            },
        ],
    ).conversation
    client.force_login(org.admin)
    mail_page = client.get(f"/contact-center/conversations/{mail_conv.pk}/history/")
    tg_page = client.get(f"/contact-center/conversations/{tg_conv.pk}/history/")
    assert mail_page.status_code == 200 and "invoice.pdf" in mail_page.content.decode()
    assert tg_page.status_code == 200
    body = tg_page.content.decode()
    assert "photo" in body and "voice" in body and "audio/ogg" in body
    assert "api.telegram.org" not in body and "AgAD" not in body
