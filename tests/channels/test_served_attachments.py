"""Issue 15 item 1: files the product fetches itself (e-mail parts, Telegram files) are served by
the product, to whoever may see the conversation's history, and answer 404 to everyone else."""

from __future__ import annotations

import email.message
import re
import urllib.parse

import pytest

from convodesk.connectors import mail, telegram
from convodesk.conversations.models import Message
from tests import factories as f

from .fake_telegram import FakeBotApi, update

PDF = b"%PDF-1.4 the invoice \x00\x01\x02"
PHOTO = b"\x89PNG\r\n\x1a\n fake photo bytes"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def _mail_with_attachment() -> bytes:
    raw = email.message.EmailMessage()
    raw["From"], raw["To"], raw["Subject"] = "Eve <eve@example.net>", "support@shop.example", "Inv"
    raw["Message-ID"] = "<inv1@example.net>"
    raw.set_content("Invoice attached")
    raw.add_attachment(PDF, maintype="application", subtype="pdf", filename="invoice.pdf")
    raw.add_attachment(
        b"<script>alert(1)</script>", maintype="text", subtype="html", filename="x.html"
    )
    return raw.as_bytes()


def _links(html: str) -> list[str]:
    return re.findall(r'href="(/contact-center/conversations/\d+/attachments/[^"]+)"', html)


@pytest.mark.django_db
def test_an_email_attachment_downloads_from_the_product_for_those_who_see_the_history(
    client, org, media, settings
):
    # HTML is not on the default list; a site that accepts it still never has it rendered
    settings.CONVODESK = {
        **settings.CONVODESK,
        "ATTACHMENT_TYPES": {"pdf": "application/pdf", "html": "text/html"},
    }
    conn = f.connection(org.line, "email")
    received = mail.ingest(conn, mail.parse(_mail_with_attachment()))
    conv = received.conversation
    stored = received.message.attachments[0]["stored"]
    assert (media / stored).read_bytes() == PDF
    assert "invoice" not in stored and "eve" not in stored  # the name says nothing guessable

    client.force_login(org.admin)
    page = client.get(f"/contact-center/conversations/{conv.pk}/history/").content.decode()
    links = _links(page)
    assert len(links) == 2
    response = client.get(links[0])
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Disposition"].startswith("attachment;")
    assert "invoice.pdf" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "application/octet-stream"
    html_part = client.get(links[1])
    assert html_part["Content-Type"] == "application/octet-stream"  # never rendered as a page
    assert html_part["Content-Disposition"].startswith("attachment;")


@pytest.mark.django_db
def test_an_email_attachment_is_not_found_for_an_employee_who_cannot_see_the_conversation(
    client, org
):
    conn = f.connection(org.line, "email")
    received = mail.ingest(conn, mail.parse(_mail_with_attachment()))
    url = f"/contact-center/conversations/{received.conversation.pk}/attachments/{received.message.pk}/0/"
    outsider = f.employee("outsider", departments=[org.support], roles=["Manager"])
    client.force_login(outsider)
    history = f"/contact-center/conversations/{received.conversation.pk}/history/"
    assert client.get(history).status_code == 404
    assert client.get(url).status_code == 404
    client.force_login(org.admin)
    assert client.get(url).status_code == 200
    # the same message under another conversation's id, and an index past the end: not found
    other = f.client_message(org.conn, "c2", "hi").conversation
    assert (
        client.get(url.replace(f"/{received.conversation.pk}/", f"/{other.pk}/", 1)).status_code
        == 404
    )
    assert client.get(url.replace("/0/", "/7/")).status_code == 404
    client.logout()
    assert client.get(url).status_code == 302  # to the log-in page


@pytest.mark.django_db
def test_a_link_posted_through_the_api_is_never_served_as_a_stored_file(client, org, media):
    """A connector cannot point the download at a file of the storage by naming it."""
    (media / "mail-parts").mkdir(parents=True)
    (media / "mail-parts" / "secret").write_bytes(b"secret")
    received = f.client_message(
        org.conn, "c1", "hi", attachments=[{"stored": "mail-parts/secret", "name": "x"}]
    )
    client.force_login(org.admin)
    url = f"/contact-center/conversations/{received.conversation.pk}/attachments/{received.message.pk}/0/"
    assert client.get(url).status_code == 404


class FileBotApi(FakeBotApi):
    """The fake Bot API, also serving /file/bot<token>/<path> downloads."""

    files: dict[str, bytes] = {}

    def _handler(self):
        api = self
        base = super()._handler()

        class Handler(base):
            def do_GET(self):
                path = urllib.parse.urlparse(self.path).path
                prefix = f"/file/bot{api.token}/"
                content = api.files.get(path[len(prefix) :]) if path.startswith(prefix) else None
                if content is None:
                    return self._send(404, {"ok": False})
                self.send_response(200)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

        return Handler


@pytest.fixture
def tg(org, settings):
    api = FileBotApi().start()
    api.files = {"photos/file_1.jpg": PHOTO}
    settings.CONVODESK = {**settings.CONVODESK, "TELEGRAM_API_BASE": api.base_url}
    conn = f.connection(org.line, "telegram", name="Support bot")
    telegram.set_bot_token(conn, api.token)
    conn.save()
    yield conn, api
    api.stop()


@pytest.mark.django_db
def test_a_telegram_photo_is_fetched_server_side_and_the_bot_token_never_reaches_the_browser(
    client, org, tg
):
    conn, api = tg
    photo = [
        {"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90, "file_size": 10},
        {"file_id": "big", "file_unique_id": "b", "width": 800, "height": 800, "file_size": 900},
    ]
    received = telegram.handle_update(conn, update(1, text=None, photo=photo, caption="my bike"))
    client.force_login(org.admin)
    page = client.get(f"/contact-center/conversations/{received.conversation.pk}/history/")
    html = page.content.decode()
    assert page.status_code == 200 and api.token not in html and "big" not in html
    (link,) = _links(html)
    response = client.get(link)
    assert response.status_code == 200 and b"".join(response.streaming_content) == PHOTO
    assert response["Content-Disposition"].startswith("attachment;")
    assert api.token.encode() not in b"".join(v.encode() for v in response.headers.values())
    assert api.calls_of("getFile") == [{"file_id": "big"}]

    client.force_login(f.employee("outsider", departments=[org.support], roles=["Manager"]))
    assert client.get(link).status_code == 404
    assert len(api.calls_of("getFile")) == 1  # a hidden conversation never reaches Telegram


@pytest.mark.django_db
def test_a_telegram_file_larger_than_the_cap_is_refused_cleanly(client, org, tg, monkeypatch):
    from convodesk.conversations import attachments

    monkeypatch.setattr(attachments, "MAX_FETCHED_FILE", 5)
    conn, api = tg
    doc = {
        "file_id": "doc1",
        "file_unique_id": "d1",
        "file_name": "big.zip",
        "mime_type": "application/zip",
        "file_size": 99,
    }
    received = telegram.handle_update(conn, update(2, text=None, document=doc))
    client.force_login(org.admin)
    url = f"/contact-center/conversations/{received.conversation.pk}/attachments/{received.message.pk}/0/"
    response = client.get(url)
    assert response.status_code == 502
    assert "too large" in response.content.decode()
    assert Message.objects.count() == 1
