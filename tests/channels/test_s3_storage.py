"""Issue 19: the attachment flow on an S3-compatible store, as `S3_BUCKET` sets it up
(settings.s3_storage): a real S3 API server (moto's) on 127.0.0.1, started by the test. A file
is uploaded, served through the signed link and the history, received from a channel, and
deleted; nothing in the bucket is public."""

from __future__ import annotations

import email.message
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from convodesk.connectors import files as signed_files
from convodesk.connectors import mail
from convodesk.conversations import services, uploads
from convodesk.conversations.models import Message
from convodesk.settings import s3_storage
from tests import factories as f
from tests.api.conftest import token_for

boto3 = pytest.importorskip("boto3", reason="the s3 extra is not installed (pip install .[s3])")
pytest.importorskip("storages", reason="the s3 extra is not installed (pip install .[s3])")
moto_server = pytest.importorskip(
    "moto.server", reason="moto[server] is not installed (pip install .[test])"
)

PDF = b"%PDF-1.4 the quote on S3"
BUCKET = "convodesk-files"


@pytest.fixture(scope="module")
def s3_server():
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_server, settings):
    """The environment an installation on S3 sets, read by the same code settings.py runs."""
    environ = {
        "S3_BUCKET": BUCKET,
        "S3_ENDPOINT_URL": s3_server,
        "S3_REGION": "us-east-1",
        "S3_ACCESS_KEY_ID": "testing",
        "S3_SECRET_ACCESS_KEY": "testing",
    }
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_server,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {**settings.STORAGES, "default": s3_storage(environ)}
    yield s3
    for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    s3.delete_bucket(Bucket=BUCKET)


def keys(s3) -> list[str]:
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))


@pytest.mark.django_db
def test_a_reply_file_on_s3_is_stored_served_signed_and_deleted(client, org, bucket):
    conv = f.client_message(org.conn, "client-x", "Send me the quote").conversation
    services.take(conv.pk, f.act(org.op1))
    response = Client().post(
        f"/api/v1/conversations/{conv.pk}/messages/files",
        {"text": "Here it is", "files": [SimpleUploadedFile("quote.pdf", PDF)]},
        HTTP_AUTHORIZATION=f"Bearer {token_for(org.op1)}",
    )
    assert response.status_code == 201, response.content
    message = Message.objects.get(pk=json.loads(response.content)["id"])
    (item,) = message.attachments
    assert keys(bucket) == [item["stored"]] and item["stored"].startswith("uploads/")
    body = bucket.get_object(Bucket=BUCKET, Key=item["stored"])["Body"].read()
    assert body == PDF
    grants = bucket.get_object_acl(Bucket=BUCKET, Key=item["stored"])["Grants"]
    assert all("AllUsers" not in str(g.get("Grantee")) for g in grants)  # never public

    # the signed link a widget or REST client gets, opened without a session
    (sent,) = signed_files.outgoing(message, base="http://testserver")
    link = sent["url"].removeprefix("http://testserver")
    answer = Client().get(link)
    assert answer.status_code == 200 and b"".join(answer.streaming_content) == PDF
    assert "quote.pdf" in answer["Content-Disposition"]
    # and the history's link, for an employee who sees the conversation
    client.force_login(org.admin)
    own = client.get(f"/contact-center/conversations/{conv.pk}/attachments/{message.pk}/0/")
    assert b"".join(own.streaming_content) == PDF

    uploads.discard(message.attachments)
    assert keys(bucket) == []
    assert Client().get(link).status_code == 404


@pytest.mark.django_db
def test_a_refused_reply_leaves_nothing_in_the_bucket(org, bucket, settings):
    settings.CONVODESK = {**settings.CONVODESK, "ATTACHMENT_MAX_BYTES": 5}
    conv = f.client_message(org.conn, "client-x", "hi").conversation
    response = Client().post(
        f"/api/v1/conversations/{conv.pk}/messages/files",
        {"files": [SimpleUploadedFile("a.txt", b"a"), SimpleUploadedFile("big.pdf", PDF)]},
        HTTP_AUTHORIZATION=f"Bearer {token_for(org.op1)}",
    )
    assert response.status_code == 413
    assert keys(bucket) == []


@pytest.mark.django_db
def test_an_email_part_is_kept_once_on_s3_and_served(client, org, bucket):
    raw = email.message.EmailMessage()
    raw["From"], raw["To"], raw["Subject"] = "Eve <eve@example.net>", "support@shop.example", "Q"
    raw["Message-ID"] = "<s3@example.net>"
    raw.set_content("Quote attached")
    raw.add_attachment(PDF, maintype="application", subtype="pdf", filename="quote.pdf")
    conn = f.connection(org.line, "email")
    received = mail.ingest(conn, mail.parse(raw.as_bytes()))
    mail.ingest(conn, mail.parse(raw.as_bytes()))  # fetched again: the same object
    (stored,) = keys(bucket)
    assert received.message.attachments[0]["stored"] == stored
    client.force_login(org.admin)
    url = f"/contact-center/conversations/{received.conversation.pk}/attachments/{received.message.pk}/0/"
    assert b"".join(client.get(url).streaming_content) == PDF


@pytest.mark.nodb
def test_the_environment_alone_puts_the_files_on_s3(bucket, s3_server, tmp_path):
    """A fresh process with only S3_* in its environment: settings.py picks the S3 storage, and
    a file goes in, comes back and goes away."""
    import os
    import subprocess
    import sys

    script = (
        "import django; django.setup()\n"
        "from django.core.files.base import ContentFile\n"
        "from django.core.files.storage import default_storage as s\n"
        "name = s.save('uploads/ab/probe', ContentFile(b'probe'))\n"
        "print(type(s._wrapped).__name__)\n"
        "print(s.open(name, 'rb').read().decode()); s.delete(name); print(s.exists(name))\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "convodesk.settings",
        "SECRET_KEY": "s3-test-" + "x" * 60,
        "CONVODESK_VAR_DIR": str(tmp_path),
        "S3_BUCKET": BUCKET,
        "S3_ENDPOINT_URL": s3_server,
        "S3_REGION": "us-east-1",
        "S3_ACCESS_KEY_ID": "testing",
        "S3_SECRET_ACCESS_KEY": "testing",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["S3Storage", "probe", "False"]
    assert keys(bucket) == []
