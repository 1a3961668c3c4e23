"""Issue 19: a client's files from Telegram and e-mail are fetched and stored through Django's
storage API when they arrive (Telegram: by a task once the message is committed), under the
composer's limits; a file refused is recorded with the reason, shown in the transcript, and the
message's text is never lost."""

from __future__ import annotations

import email.message
import json
import re

import pytest

from convodesk.connectors import mail, telegram
from convodesk.conversations.models import Message
from tests import factories as f

from .fake_telegram import update

PHOTO = b"\xff\xd8\xff\xe0 a small jpeg"
PDF = b"%PDF-1.4 the invoice"
BIG_PHOTO = {"file_id": "big", "file_unique_id": "b", "width": 800, "height": 600}
SMALL_PHOTO = {"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90}
DOC = {
    "file_id": "doc1",
    "file_unique_id": "d1",
    "file_name": "../../etc/invoice\x07.pdf",
    "mime_type": "application/pdf",
}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.TASKS = {
        "default": {
            **settings.TASKS["default"],
            "BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
        }
    }
    return settings.MEDIA_ROOT


@pytest.fixture
def files(bot_api):
    bot_api.files = {"photos/big.jpg": PHOTO, "documents/doc1.pdf": PDF}
    bot_api.file_paths = {"big": "photos/big.jpg", "doc1": "documents/doc1.pdf"}
    return bot_api


def post_update(client, conn, payload):
    return client.post(
        f"/connectors/telegram/{conn.pk}/webhook/",
        data=json.dumps(payload),
        content_type="application/json",
        headers={"X-Telegram-Bot-Api-Secret-Token": conn.secret},
    )


def _arrive(client, conn, django_capture_on_commit_callbacks, *updates):
    for payload in updates:
        with django_capture_on_commit_callbacks(execute=True):
            assert post_update(client, conn, payload).status_code == 200


def _links(html: str) -> list[str]:
    return re.findall(r'href="(/contact-center/conversations/\d+/attachments/[^"]+)"', html)


@pytest.mark.django_db
def test_a_photo_and_a_document_are_stored_on_arrival_and_outlive_the_telegram_server(
    client, org, tg, files, media, django_capture_on_commit_callbacks
):
    _arrive(
        client,
        tg,
        django_capture_on_commit_callbacks,
        update(1, text=None, photo=[SMALL_PHOTO, BIG_PHOTO], caption="my bike"),
        update(2, text=None, document=DOC, caption="the invoice"),
    )
    photo_msg, doc_msg = Message.objects.order_by("id")
    assert photo_msg.text == "my bike" and doc_msg.text == "the invoice"
    (photo,), (doc,) = photo_msg.attachments, doc_msg.attachments
    assert (media / photo["stored"]).read_bytes() == PHOTO
    assert (media / doc["stored"]).read_bytes() == PDF
    assert photo["stored"].startswith("telegram-files/") and doc["name"] == "invoice.pdf"
    assert "invoice" not in doc["stored"]  # the storage name says nothing guessable
    assert [c["file_id"] for c in files.calls_of("getFile")] == ["big", "doc1"]

    files.stop()  # Telegram goes away: the files are the product's own now
    client.force_login(org.admin)
    page = client.get(f"/contact-center/conversations/{photo_msg.conversation_id}/history/")
    links = _links(page.content.decode())
    assert len(links) == 2
    got = [b"".join(client.get(link).streaming_content) for link in links]
    assert got == [PHOTO, PDF]
    assert "invoice.pdf" in client.get(links[1])["Content-Disposition"]


@pytest.mark.django_db
def test_a_voice_note_and_a_video_from_a_phone_are_kept_by_default(
    client, org, tg, files, media, django_capture_on_commit_callbacks
):
    """Telegram sends a voice note as Ogg Opus without a file name, a video as MP4: both are
    what clients send every day, and the default list keeps them."""
    files.files.update({"voice/v1.oga": b"OggS voice", "videos/m1.mp4": b"....ftypmp42"})
    files.file_paths.update({"v1": "voice/v1.oga", "m1": "videos/m1.mp4"})
    voice = {"file_id": "v1", "file_unique_id": "v1u", "mime_type": "audio/ogg", "duration": 3}
    video = {"file_id": "m1", "file_unique_id": "m1u", "mime_type": "video/mp4", "duration": 5}
    _arrive(
        client,
        tg,
        django_capture_on_commit_callbacks,
        update(1, text=None, voice=voice),
        update(2, text=None, video=video),
    )
    (kept_voice,), (kept_video,) = (m.attachments for m in Message.objects.order_by("id"))
    assert kept_voice.get("refused") is None and kept_video.get("refused") is None
    assert (media / kept_voice["stored"]).read_bytes() == b"OggS voice"
    assert kept_voice["name"] == "voice-v1u.oga" and kept_video["name"] == "video-m1u.mp4"


@pytest.mark.django_db
def test_a_hidden_conversations_telegram_file_answers_404(
    client, org, tg, files, django_capture_on_commit_callbacks
):
    _arrive(client, tg, django_capture_on_commit_callbacks, update(1, text=None, document=DOC))
    message = Message.objects.get()
    url = f"/contact-center/conversations/{message.conversation_id}/attachments/{message.pk}/0/"
    client.force_login(f.employee("outsider", departments=[org.support], roles=["Manager"]))
    assert client.get(url).status_code == 404
    client.force_login(org.admin)
    assert client.get(url).status_code == 200


@pytest.mark.django_db
def test_a_retried_update_and_a_rerun_task_fetch_nothing_twice(
    client, tg, files, django_capture_on_commit_callbacks
):
    payload = update(1, text=None, document=DOC)
    _arrive(client, tg, django_capture_on_commit_callbacks, payload, payload)
    message = Message.objects.get()
    stored = message.attachments[0]["stored"]
    telegram.keep_files(message.pk)
    assert len(files.calls_of("getFile")) == 1
    assert Message.objects.get().attachments[0]["stored"] == stored


@pytest.mark.django_db
def test_an_oversized_or_forbidden_file_is_refused_with_the_reason_and_the_text_kept(
    client, org, tg, files, settings, django_capture_on_commit_callbacks
):
    settings.CONVODESK = {**settings.CONVODESK, "ATTACHMENT_MAX_BYTES": 10}
    big = {**DOC, "file_name": "invoice.pdf"}  # 20 bytes, no size announced
    exe = {**DOC, "file_id": "exe", "file_name": "setup.exe", "file_size": 5}
    announced = {**DOC, "file_id": "huge", "file_name": "huge.pdf", "file_size": 10**9}
    _arrive(
        client,
        tg,
        django_capture_on_commit_callbacks,
        update(1, "first", document=big),
        update(2, "second", document=exe),
        update(3, "third", document=announced),
    )
    first, second, third = Message.objects.order_by("id")
    assert [m.text for m in (first, second, third)] == ["first", "second", "third"]
    assert "too large" in first.attachments[0]["refused"]
    assert "not accepted" in second.attachments[0]["refused"]
    assert "too large" in third.attachments[0]["refused"]
    assert not any(m.attachments[0].get("stored") for m in (first, second, third))
    # neither the forbidden type nor the announced giant was downloaded
    assert [c["file_id"] for c in files.calls_of("getFile")] == ["doc1"]

    client.force_login(org.admin)
    page = client.get(f"/contact-center/conversations/{first.conversation_id}/history/")
    html = page.content.decode()
    assert page.status_code == 200 and not _links(html)
    assert html.count("Not kept:") == 3 and "this type of file is not accepted" in html
    url = f"/contact-center/conversations/{second.conversation_id}/attachments/{second.pk}/0/"
    assert client.get(url).status_code == 404
    # The API says the same: the reason, and nothing to download.
    from tests.api.conftest import token_for

    listed = client.get(
        f"/api/v1/conversations/{first.conversation_id}/messages",
        HTTP_AUTHORIZATION=f"Bearer {token_for(org.admin)}",
    ).json()
    kept = [m["attachments"][0] for m in listed["items"] if m["attachments"]]
    assert [a["download"] for a in kept] == [None, None, None]
    assert "not accepted" in kept[1]["refused"] and "too large" in kept[2]["refused"]


@pytest.mark.django_db
def test_a_file_telegram_cannot_hand_over_at_arrival_waits_and_is_fetched_on_opening(
    client, org, tg, files, django_capture_on_commit_callbacks
):
    files.script("getFile", 500, {"ok": False, "error_code": 500, "description": "Internal"})
    _arrive(client, tg, django_capture_on_commit_callbacks, update(1, text=None, document=DOC))
    message = Message.objects.get()
    assert message.attachments[0].get("stored") is None
    assert message.attachments[0].get("refused") is None
    client.force_login(org.admin)
    url = f"/contact-center/conversations/{message.conversation_id}/attachments/{message.pk}/0/"
    assert b"".join(client.get(url).streaming_content) == PDF
    assert Message.objects.get().attachments[0]["stored"]


def _mail(*parts) -> bytes:
    raw = email.message.EmailMessage()
    raw["From"], raw["To"], raw["Subject"] = "Eve <eve@example.net>", "support@shop.example", "Hi"
    raw["Message-ID"] = "<parts@example.net>"
    raw.set_content("Files attached")
    for content, maintype, subtype, name in parts:
        raw.add_attachment(content, maintype=maintype, subtype=subtype, filename=name)
    return raw.as_bytes()


@pytest.mark.django_db
def test_email_parts_are_stored_under_the_same_limits(client, org, settings, media):
    settings.CONVODESK = {**settings.CONVODESK, "ATTACHMENT_MAX_BYTES": 100}
    conn = f.connection(org.line, "email")
    raw = _mail(
        (PDF, "application", "pdf", "invoice.pdf"),
        (b"MZ" * 10, "application", "octet-stream", "setup.exe"),
        (b"x" * 101, "text", "plain", "long.txt"),
    )
    received = mail.ingest(conn, mail.parse(raw))
    pdf, exe, long = received.message.attachments
    assert received.message.text == "Files attached"
    assert (media / pdf["stored"]).read_bytes() == PDF
    assert "stored" not in exe and "not accepted" in exe["refused"]
    assert "stored" not in long and "too large" in long["refused"]
    client.force_login(org.admin)
    html = client.get(f"/contact-center/conversations/{received.conversation.pk}/history/")
    assert len(_links(html.content.decode())) == 1
    assert html.content.decode().count("Not kept:") == 2


def test_a_refused_reason_or_a_storage_name_cannot_be_posted_through_the_api():
    from convodesk.conversations.attachments import from_outside

    posted = [{"url": "https://x.example/a", "stored": "mail-parts/x", "refused": "no"}]
    assert from_outside(posted) == [{"url": "https://x.example/a"}]
