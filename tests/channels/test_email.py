import email
import email.policy
import itertools

import pytest
from django.utils import timezone

from convodesk.connectors import delivery, mail
from convodesk.conversations import services
from convodesk.conversations.lifecycle import Status
from convodesk.conversations.models import Conversation, Message
from convodesk.lines.models import Connection

from .. import factories as f

_users = itertools.count(1)


@pytest.fixture
def mailbox(org, imap_server, smtp_server):
    """A fresh mailbox user per test, and an e-mail connection reading it and sending through the recorder."""
    user = f"box{next(_users)}"
    smtp_server.messages.clear()
    conn = f.connection(org.line, "email", name="Support mail")
    mail.configure(
        conn,
        address="support@shop.example",
        imap={
            "host": "127.0.0.1",
            "port": imap_server.port,
            "security": "none",
            "user": user,
            "password": "pw",
        },
        smtp={
            "host": "127.0.0.1",
            "port": smtp_server.port,
            "security": "none",
            "user": "",
            "password": "",
        },
    )
    conn.save()

    class Box:
        connection = conn
        sent = smtp_server.messages

        @staticmethod
        def deliver(raw: bytes):
            imap_server.append(user, "pw", raw)

        @staticmethod
        def fetch(now=None):
            return mail.fetch(Connection.objects.get(pk=conn.pk), now=now)

    return Box


def client_mail(
    subject="Order 4821",
    body="Where is my parcel?",
    sender="Ana López <Ana.Lopez@Example.NET>",
    **headers,
):
    return mail.as_mime(sender, "support@shop.example", subject, body, **headers)


def test_a_new_mail_starts_a_conversation_with_the_sender_as_client(mailbox):
    mailbox.deliver(client_mail())
    result = mailbox.fetch()
    assert result.stored == 1
    conv = Conversation.objects.get()
    assert conv.channel == "email" and conv.client.name == "Ana López"
    assert conv.identity.external_id == "ana.lopez@example.net"
    assert conv.client.email_normalized == "ana.lopez@example.net"
    assert conv.messages.get().text == "Where is my parcel?"


def test_a_reply_to_our_reply_continues_the_same_conversation(mailbox, org):
    mailbox.deliver(client_mail())
    mailbox.fetch()
    conv = Conversation.objects.get()
    now = timezone.now()
    services.take(conv.pk, f.act(org.op1), now=now)
    reply = services.reply(conv.pk, f.act(org.op1), "It ships tomorrow.", now=now)
    assert delivery.deliver_due(now) == 1
    sent = email.message_from_bytes(mailbox.sent[0].content, policy=email.policy.default)
    assert sent["To"] == "ana.lopez@example.net"
    assert sent["Subject"] == f"Re: Order 4821 [#{conv.pk}]"
    first_id = conv.messages.filter(author_kind="client").get().external_id
    assert sent["In-Reply-To"] == first_id and first_id in sent["References"]
    reply.refresh_from_db()
    assert reply.delivery_state == "sent" and reply.channel_message_id == sent["Message-ID"]

    answer = client_mail(
        subject=f"Re: Order 4821 [#{conv.pk}]",
        body="Great, thanks!\n\nOn Mon, Support wrote:\n> It ships tomorrow.",
        In_Reply_To=sent["Message-ID"],
        References=f"{first_id} {sent['Message-ID']}",
    )
    mailbox.deliver(answer)
    mailbox.fetch()
    conv.refresh_from_db()
    assert Conversation.objects.count() == 1
    assert conv.status == Status.CLIENT_WROTE_AFTER_AGENT
    assert conv.messages.filter(author_kind="client").last().text == "Great, thanks!"


def test_auto_replies_and_bounces_never_open_conversations(mailbox):
    mailbox.deliver(client_mail(subject="Out of office", Auto_Submitted="auto-replied"))
    mailbox.deliver(client_mail(subject="Newsletter", Precedence="bulk"))
    mailbox.deliver(
        client_mail(
            subject="Undelivered Mail Returned to Sender", sender="MAILER-DAEMON@mx.example.net"
        )
    )
    result = mailbox.fetch()
    assert result.ignored == 3 and result.stored == 0
    assert not Conversation.objects.exists()


def test_the_same_mail_fetched_twice_is_stored_once(mailbox):
    mailbox.deliver(client_mail(message_id="<once@example.net>"))
    mailbox.fetch()
    conn = Connection.objects.get(pk=mailbox.connection.pk)
    conn.config["state"]["last_uid"] = 0  # as if the fetcher crashed before saving its place
    conn.save()
    mailbox.fetch()
    assert Message.objects.count() == 1


def test_a_malformed_mail_is_skipped_and_the_rest_of_the_batch_is_processed(mailbox):
    mailbox.deliver(b"Subject: no sender at all\r\nMessage-ID: <x1@example.net>\r\n\r\nhello\r\n")
    mailbox.deliver(client_mail(sender="Bob <bob@example.net>"))
    result = mailbox.fetch()
    assert result.skipped == 1 and result.stored == 1
    assert Conversation.objects.get().client.name == "Bob"


def test_a_changed_uidvalidity_is_resynchronised_without_duplicates(mailbox, imap_server):
    mailbox.deliver(client_mail(message_id="<a@example.net>"))
    mailbox.fetch()
    user = mailbox.connection.config["imap"]["user"]
    imap_server.set_uidvalidity(user, 424242)
    mailbox.deliver(client_mail(message_id="<b@example.net>", body="Second question"))
    result = mailbox.fetch()
    assert result.resynced and result.stored == 1
    assert Message.objects.count() == 2
    assert Connection.objects.get(pk=mailbox.connection.pk).config["state"]["uidvalidity"] == 424242


def test_html_only_mail_becomes_safe_text_and_attachments_are_metadata(mailbox):
    raw = email.message.EmailMessage()
    raw["From"], raw["To"], raw["Subject"] = (
        "Eve <eve@example.net>",
        "support@shop.example",
        "Invoice",
    )
    raw["Message-ID"] = "<html1@example.net>"
    raw.set_content(
        "<html><head><style>p{}</style></head><body><p>Hello <b>team</b></p>"
        "<script>alert(1)</script><p>Invoice attached</p></body></html>",
        subtype="html",
    )
    raw.add_attachment(
        b"%PDF-1.4 fake", maintype="application", subtype="pdf", filename="invoice.pdf"
    )
    mailbox.deliver(raw.as_bytes())
    mailbox.fetch()
    message = Message.objects.get()
    assert message.text == "Hello team\n\nInvoice attached"
    stored = message.attachments[0].pop("stored")  # the bytes, kept for download
    assert message.attachments == [
        {
            "type": "file",
            "file_name": "invoice.pdf",
            "mime_type": "application/pdf",
            "file_size": 13,
        }
    ]
    assert stored.startswith("mail-parts/")


def test_mail_after_the_close_outside_the_reopen_window_starts_a_new_conversation(mailbox, org):
    mailbox.deliver(client_mail(message_id="<first@example.net>"))
    mailbox.fetch()
    conv = Conversation.objects.get()
    services.close(conv.pk, f.act(org.admin))
    mailbox.deliver(
        client_mail(message_id="<second@example.net>", In_Reply_To="<first@example.net>")
    )
    mailbox.fetch()
    assert Conversation.objects.count() == 2


def test_the_mailbox_password_is_stored_encrypted(mailbox):
    raw = Connection.objects.filter(pk=mailbox.connection.pk).values_list("config", flat=True).get()
    assert raw["imap"]["password"] != "pw" and mail._secret(raw["imap"]) == "pw"


@pytest.mark.nodb
def test_quoted_replies_are_trimmed():
    assert (
        mail.trim_quoted("Yes please\n\nOn Tue, 3 Nov 2026, Support wrote:\n> old") == "Yes please"
    )
    assert mail.trim_quoted("Sí\n\nEl mar, 3 nov 2026, Soporte escribió:\n> antiguo") == "Sí"
    assert mail.trim_quoted("> only a quote") == "> only a quote"


@pytest.mark.nodb
def test_a_reply_trusts_the_mailboxs_own_certificate_authority(tmp_path):
    """A server with its own CA names it (`ca_file`); the *Test connection* log-in trusted it,
    and the replies must too, or they fail on the certificate after the test passed."""
    from tests.certificates import self_signed

    path, _key = self_signed(tmp_path, common_name="Shop Mail CA")

    backend = mail.smtp_backend({"host": "mail.shop.example", "ca_file": str(path)})
    subjects = [dict(x[0] for x in c["subject"]) for c in backend.ssl_context.get_ca_certs()]
    assert {"commonName": "Shop Mail CA"} in subjects
