"""Issue 19: a reply with files through the API (multipart/form-data), under the composer's size
and type limits, with safe names; 413 / 415 / 400 with a message, and nothing left in the
storage when the reply is refused."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from convodesk.conversations import services
from convodesk.conversations.models import Conversation, Message
from tests import factories as f

from .conftest import token_for

pytestmark = pytest.mark.django_db
PNG = b"\x89PNG\r\n\x1a\n a tiny picture"
PDF = b"%PDF-1.4 the quote"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def stored_files(media) -> list:
    return sorted(p for p in media.rglob("*") if p.is_file()) if media.exists() else []


def upload(user, conversation_id, files, **fields):
    response = Client().post(
        f"/api/v1/conversations/{conversation_id}/messages/files",
        {**fields, "files": files},
        HTTP_AUTHORIZATION=f"Bearer {token_for(user)}",
    )
    return response.status_code, json.loads(response.content)


def taken(org):
    conv = f.client_message(org.conn, "client-x", "Send me the quote").conversation
    services.take(conv.pk, f.act(org.op1))
    return conv


def test_a_reply_with_files_is_stored_safely_named_and_served(client, org, media):
    conv = taken(org)
    status, message = upload(
        org.op1,
        conv.pk,
        [
            SimpleUploadedFile("../../etc/quote\x07\u202e.pdf", PDF),
            SimpleUploadedFile("photo.png", PNG, content_type="text/html"),
        ],
        text="Here it is",
    )
    assert status == 201, message
    assert message["author_kind"] == "employee" and message["text"] == "Here it is"
    quote, photo = message["attachments"]
    assert quote["name"] == "quote.pdf" and quote["content_type"] == "application/pdf"
    assert photo["content_type"] == "image/png"  # by the extension, not the claimed type
    assert quote["size"] == len(PDF) and "stored" not in quote  # the storage name stays inside
    assert sorted(p.read_bytes() for p in stored_files(media)) == sorted([PDF, PNG])
    client.force_login(org.admin)
    url = f"/contact-center/conversations/{conv.pk}/attachments/{message['id']}/0/"
    assert b"".join(client.get(url).streaming_content) == PDF
    assert Conversation.objects.get(pk=conv.pk).first_reply_at is not None


def test_a_private_note_with_a_file(org, media):
    conv = taken(org)
    status, message = upload(org.op1, conv.pk, [SimpleUploadedFile("n.txt", b"x")], note="true")
    assert status == 201 and message["author_kind"] == "note"
    assert message["text"] == "" and message["attachments"][0]["name"] == "n.txt"


def test_an_oversized_a_forbidden_an_empty_file_and_more_than_ten_are_refused(org, media, settings):
    settings.CONVODESK = {**settings.CONVODESK, "ATTACHMENT_MAX_BYTES": 10}
    conv = taken(org)
    cases = [
        ([SimpleUploadedFile("big.pdf", b"x" * 11)], 413, "too_large", "too large"),
        ([SimpleUploadedFile("setup.exe", b"MZ")], 415, "unsupported_type", "not accepted"),
        ([SimpleUploadedFile("empty.txt", b"")], 400, "bad_request", "empty"),
        (
            [SimpleUploadedFile(f"{i}.txt", b"x") for i in range(10)],
            422,
            "validation_error",
            "files",
        ),
    ]
    for files, want, code, words in cases:
        # a good file next to the bad one is not stored either
        status, body = upload(org.op1, conv.pk, [SimpleUploadedFile("ok.txt", b"ok"), *files])
        assert status == want and body["error"]["code"] == code, body
        assert words in body["error"]["message"], body
    assert stored_files(media) == []
    assert not Message.objects.filter(author_kind="employee").exists()


def test_no_file_is_a_422_naming_the_field(org):
    conv = taken(org)
    response = Client().post(
        f"/api/v1/conversations/{conv.pk}/messages/files",
        {"text": "hi"},
        HTTP_AUTHORIZATION=f"Bearer {token_for(org.op1)}",
    )
    assert response.status_code == 422 and "files" in response.json()["error"]["details"]


def test_nothing_is_stored_for_a_hidden_or_a_closed_conversation(org, media):
    conv = taken(org)
    status, body = upload(org.op3, conv.pk, [SimpleUploadedFile("a.txt", b"a")])
    assert status == 404 and body["error"]["code"] == "not_found"
    status, _body = upload(org.op1, 987654, [SimpleUploadedFile("a.txt", b"a")])
    assert status == 404
    services.close(conv.pk, f.act(org.op1))
    status, body = upload(org.op1, conv.pk, [SimpleUploadedFile("a.txt", b"a")], text="late")
    assert status == 409, body
    assert stored_files(media) == []


def test_an_integrations_automatic_text_keeps_no_files(org, media):
    conv = taken(org)
    bot = f.integration("bot", "Chief executive")
    status, message = upload(bot, conv.pk, [SimpleUploadedFile("a.txt", b"a")], text="Auto")
    assert status == 201 and message["author_kind"] == "bot"
    assert stored_files(media) == []


def test_the_files_of_a_message_download_through_the_api_for_those_who_see_its_history(org, media):
    conv = taken(org)
    status, message = upload(org.op1, conv.pk, [SimpleUploadedFile("quote.pdf", PDF)], text="")
    assert status == 201
    (quote,) = message["attachments"]
    assert quote["url"] is None and quote["refused"] is None
    path = f"/api/v1/conversations/{conv.pk}/messages/{message['id']}/files/0"
    assert quote["download"] == path

    def get(user, url=path):
        return Client().get(url, HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")

    got = get(org.op1)
    assert got.status_code == 200 and b"".join(got.streaming_content) == PDF
    assert "quote.pdf" in got["Content-Disposition"]
    assert got["Content-Type"] == "application/octet-stream"
    listed = json.loads(get(org.op1, f"/api/v1/conversations/{conv.pk}/messages").content)
    assert listed["items"][-1]["attachments"] == [quote]
    # Another operator does not see the conversation: the file is as absent as a missing one.
    hidden, missing = get(org.op2), get(org.op1, path.replace("/files/0", "/files/7"))
    assert hidden.status_code == missing.status_code == 404
    assert json.loads(hidden.content) == json.loads(missing.content)


def test_a_posted_link_keeps_its_url_and_has_nothing_to_download(org):
    conv = taken(org)
    response = Client().post(
        f"/api/v1/conversations/{conv.pk}/messages",
        json.dumps({"text": "See", "attachments": [{"url": "https://x.example/a.pdf"}]}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token_for(org.op1)}",
    )
    assert response.status_code == 201, response.content
    (link,) = json.loads(response.content)["attachments"]
    assert link["url"] == "https://x.example/a.pdf" and link["download"] is None
    path = f"/api/v1/conversations/{conv.pk}/messages/{json.loads(response.content)['id']}/files/0"
    refused = Client().get(path, HTTP_AUTHORIZATION=f"Bearer {token_for(org.op1)}")
    assert refused.status_code == 404
