"""Issue 19 item 4: files from the composer. Uploaded in the workspace, kept through Django's
storage, refused with a message when too large or of a forbidden type, named safely, served
only to those who see the conversation, and sent out on each channel in its own way."""

from __future__ import annotations

import email
import email.policy
import json
import time
from pathlib import Path

import pytest
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from convodesk.connectors import delivery
from convodesk.conversations import uploads
from convodesk.conversations.models import Conversation, Message
from tests import factories as f
from tests.api.conftest import WebhookReceiver

from .fake_telegram import update
from .test_email import client_mail, mailbox  # noqa: F401 - fixtures

PDF = b"%PDF-1.4 the quote \x00\x01"
PNG = b"\x89PNG\r\n\x1a\n a small picture"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return Path(settings.MEDIA_ROOT)


def stored_files(media: Path) -> list[Path]:
    return [p for p in (media / "uploads").rglob("*") if p.is_file()] if media.exists() else []


def send(client, operator, conv, *files, text="Here you are", note=""):
    client.force_login(operator)
    base = f"/contact-center/workspace/c/{conv.pk}/"
    if conv.responsible_id != operator.pk:
        client.post(base + "take/")
    return client.post(base + "reply/", {"text": text, "note": note, "files": list(files)})


@pytest.mark.django_db
def test_telegram_gets_a_picture_by_send_photo_and_a_pdf_by_send_document(
    client, org, tg, bot_api, media
):
    client.post(
        f"/connectors/telegram/{tg.pk}/webhook/",
        data=json.dumps(update(1, "Send me the quote")),
        content_type="application/json",
        headers={"X-Telegram-Bot-Api-Secret-Token": tg.secret},
    )
    conv = Conversation.objects.get()
    response = send(
        client,
        org.op1,
        conv,
        SimpleUploadedFile("quote.pdf", PDF, "application/pdf"),
        SimpleUploadedFile("shop.png", PNG, "image/png"),
    )
    assert response.status_code == 200
    assert delivery.deliver_due(timezone.now()) == 1
    assert bot_api.calls_of("sendMessage") == [{"chat_id": "777", "text": "Here you are"}]
    [document] = bot_api.calls_of("sendDocument")
    assert document["chat_id"] == "777"
    assert document["document"] == {
        "filename": "quote.pdf",
        "content_type": "application/pdf",
        "content": PDF,
    }
    [photo] = bot_api.calls_of("sendPhoto")
    assert photo["photo"]["content"] == PNG and photo["photo"]["filename"] == "shop.png"
    message = Message.objects.get(author_kind="employee")
    assert message.delivery_state == "sent" and len(message.channel_message_id.split(",")) == 3


@pytest.mark.django_db
def test_email_sends_the_file_as_a_mime_part(client, org, mailbox):  # noqa: F811
    mailbox.deliver(client_mail())
    mailbox.fetch()
    conv = Conversation.objects.get()
    send(client, org.op1, conv, SimpleUploadedFile("quote.pdf", PDF, "application/pdf"))
    assert delivery.deliver_due(timezone.now()) == 1
    sent = email.message_from_bytes(mailbox.sent[0].content, policy=email.policy.default)
    assert "Here you are" in sent.get_body(("plain",)).get_content()
    [part] = list(sent.iter_attachments())
    assert part.get_filename() == "quote.pdf" and part.get_content_type() == "application/pdf"
    assert part.get_content() == PDF


@pytest.mark.django_db
def test_the_rest_webhook_gets_a_signed_link_that_expires(client, org, settings, monkeypatch):
    settings.TASKS = {
        "default": {
            **settings.TASKS["default"],
            "BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
        }
    }
    settings.CONVODESK = {**settings.CONVODESK, "PUBLIC_URL": "https://cc.example.com"}
    receiver = WebhookReceiver()
    try:
        conn = f.connection(org.line, "api", config={"webhook_url": receiver.url})
        conv = f.client_message(conn, "crm-1", "Quote?", when=timezone.now()).conversation
        send(client, org.op1, conv, SimpleUploadedFile("quote.pdf", PDF, "application/pdf"))
        assert delivery.deliver_due(timezone.now()) == 1
        [request] = receiver.requests
    finally:
        receiver.close()
    [file] = json.loads(request["body"])["message"]["attachments"]
    assert set(file) == {"name", "content_type", "size", "url"}
    assert file["name"] == "quote.pdf" and file["size"] == len(PDF)
    assert file["url"].startswith("https://cc.example.com/connectors/files/")
    path = file["url"].removeprefix("https://cc.example.com")
    client.logout()
    response = client.get(path)
    assert response.status_code == 200 and b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/octet-stream"
    # Eight days later the same link no longer opens.
    later = time.time() + 8 * 24 * 3600
    monkeypatch.setattr(signing.time, "time", lambda: later)
    expired = client.get(path)
    assert expired.status_code == 404


@pytest.mark.django_db
def test_a_hidden_conversations_file_answers_404(client, org):
    conv = f.client_message(org.conn, "c-h", "Hi", when=timezone.now()).conversation
    send(client, org.op1, conv, SimpleUploadedFile("quote.pdf", PDF, "application/pdf"))
    message = Message.objects.get(author_kind="employee")
    url = f"/contact-center/conversations/{conv.pk}/attachments/{message.pk}/0/"
    page = client.get(f"/contact-center/workspace/?c={conv.pk}").content.decode()
    assert url in page  # the operator's transcript links it
    assert b"".join(client.get(url).streaming_content) == PDF
    outsider = f.employee("outsider", departments=[org.support], roles=["Manager"])
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    assert client.get(f"/contact-center/conversations/{conv.pk}/history/").status_code == 404


@pytest.mark.django_db
def test_a_note_can_carry_a_file_that_no_link_outside_opens(client, org):
    conv = f.client_message(org.conn, "c-n", "Hi", when=timezone.now()).conversation
    send(client, org.op1, conv, SimpleUploadedFile("id.png", PNG, "image/png"), note="1")
    note = Message.objects.get(author_kind="note")
    url = f"/contact-center/conversations/{conv.pk}/attachments/{note.pk}/0/"
    assert b"".join(client.get(url).streaming_content) == PNG
    from convodesk.connectors import files

    assert files.outgoing(note) == []
    forged = files.path(note, 0)  # even a correctly signed link refuses a note's file
    client.logout()
    assert client.get(forged).status_code == 404


@pytest.mark.django_db
def test_an_oversized_file_is_refused_with_a_message_and_nothing_is_kept(
    client, org, settings, media
):
    settings.CONVODESK = {**settings.CONVODESK, "ATTACHMENT_MAX_BYTES": 1024}
    conv = f.client_message(org.conn, "c-big", "Hi", when=timezone.now()).conversation
    response = send(
        client, org.op1, conv, SimpleUploadedFile("big.pdf", b"x" * 2048, "application/pdf")
    )
    assert response.status_code == 400
    assert "“big.pdf” is too large: at most 1.0\xa0KB per file." in response.content.decode()
    assert not Message.objects.filter(author_kind="employee").exists()
    assert stored_files(media) == []


@pytest.mark.django_db
def test_a_forbidden_type_is_refused_with_a_message(client, org, media):
    conv = f.client_message(org.conn, "c-exe", "Hi", when=timezone.now()).conversation
    for name in ("setup.exe", "page.html", "logo.svg", "noextension"):
        response = send(
            client,
            org.op1,
            conv,
            SimpleUploadedFile("ok.pdf", PDF, "application/pdf"),
            SimpleUploadedFile(name, b"MZ...", "application/pdf"),  # the claimed type is ignored
        )
        assert response.status_code == 400, name
        assert "this type of file is not accepted" in response.content.decode()
    assert not Message.objects.filter(author_kind="employee").exists()
    assert stored_files(media) == []  # the good file of the same message was not kept either


@pytest.mark.django_db
def test_a_refused_reply_keeps_no_file(client, org, media):
    conv = f.client_message(org.conn, "c-closed", "Hi", when=timezone.now()).conversation
    from convodesk.conversations import services

    services.take(conv.pk, f.act(org.op1))
    services.close(conv.pk, f.act(org.op1))
    client.force_login(org.op1)
    response = client.post(
        f"/contact-center/workspace/c/{conv.pk}/reply/",
        {"text": "late", "files": [SimpleUploadedFile("a.pdf", PDF, "application/pdf")]},
    )
    assert response.status_code == 409
    assert stored_files(media) == []


@pytest.mark.parametrize(
    "given, safe",
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\win.ini.txt", "win.ini.txt"),
        ("in\x00voice\r\n.pdf", "invoice.pdf"),
        ("quote\u202egpj.pdf", "quotegpj.pdf"),  # a right-to-left override hides the real end
        ("  .hidden.pdf ", "hidden.pdf"),
        ("/", "file"),
        ("x" * 300 + ".pdf", "x" * 116 + ".pdf"),
    ],
)
def test_file_names_are_made_safe(given, safe):
    assert uploads.safe_name(given) == safe


@pytest.mark.django_db
def test_a_name_with_control_characters_is_stored_and_sent_safe(client, org):
    conv = f.client_message(org.conn, "c-name", "Hi", when=timezone.now()).conversation
    response = send(
        client, org.op1, conv, SimpleUploadedFile("bad\x07\x1bname\u2028.pdf", PDF, "a/b")
    )
    assert response.status_code == 200
    [item] = Message.objects.get(author_kind="employee").attachments
    assert item["name"] == "badname.pdf"
    assert item["content_type"] == "application/pdf"  # from the extension, not the browser
    # The stored path is a random hex name, never the client's ("bad" alone is hex, and did turn up).
    assert item["stored"].startswith("uploads/") and "badname" not in item["stored"]


@pytest.mark.django_db
def test_the_accepted_types_come_from_settings(client, org, settings):
    settings.CONVODESK = {**settings.CONVODESK, "ATTACHMENT_EXTENSIONS": ["pdf"]}
    conv = f.client_message(org.conn, "c-types", "Hi", when=timezone.now()).conversation
    refused = send(client, org.op1, conv, SimpleUploadedFile("shop.png", PNG, "image/png"))
    assert refused.status_code == 400
    assert "(accepted: pdf)" in refused.content.decode()
    page = client.get(f"/contact-center/workspace/?c={conv.pk}").content.decode()
    assert 'accept=".pdf"' in page  # the picker offers what the server accepts
    accepted = send(client, org.op1, conv, SimpleUploadedFile("quote.pdf", PDF, "x/y"))
    assert accepted.status_code == 200


@pytest.mark.django_db
def test_a_file_sent_to_a_hidden_conversation_answers_404_and_is_not_kept(client, org, media):
    conv = f.client_message(org.conn, "c-hid", "Hi", when=timezone.now()).conversation
    outsider = f.employee("outsider2", departments=[org.support], roles=["Manager"])
    client.force_login(outsider)
    response = client.post(
        f"/contact-center/workspace/c/{conv.pk}/reply/",
        {"text": "x", "files": [SimpleUploadedFile("a.pdf", PDF, "application/pdf")]},
    )
    assert response.status_code == 404
    assert stored_files(media) == [] and not Message.objects.exclude(author_kind="client")
