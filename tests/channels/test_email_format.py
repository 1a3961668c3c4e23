"""What a mail looks like on both sides: HTML tables read as rows with separators, and our replies
carry a dated, properly folded header block."""

import datetime as dt
import email
import email.policy
import email.utils

from django.utils import timezone

from convodesk.connectors import delivery, mail
from convodesk.conversations import services
from convodesk.conversations.models import Conversation, Message

from .. import factories as f
from .test_email import client_mail, mailbox  # noqa: F401 - the fixture


def test_an_html_order_table_becomes_rows_with_separators(mailbox):  # noqa: F811
    raw = email.message.EmailMessage()
    raw["From"], raw["To"], raw["Subject"] = (
        "Eve <eve@example.net>",
        "support@shop.example",
        "Order",
    )
    raw["Message-ID"] = "<table1@example.net>"
    raw.set_content(
        "<html><body><p>My order:</p>"
        "<table><tr><th>Item</th><th>Qty</th><th>Price</th></tr>"
        "<tr><td>Blue mug</td><td>2</td><td>9,90&nbsp;€</td></tr>"
        "<tr><td><b>Tea</b> pot</td><td>1</td><td>24,00 €</td></tr>"
        "<tr><td></td><td></td><td></td></tr></table>"
        "<p>Thanks</p></body></html>",
        subtype="html",
    )
    mailbox.deliver(raw.as_bytes())
    mailbox.fetch()
    assert Message.objects.get().text == (
        "My order:\n\nItem | Qty | Price\nBlue mug | 2 | 9,90 €\nTea pot | 1 | 24,00 €\n\nThanks"
    )


def test_a_nested_layout_table_keeps_each_tables_cells_apart():
    html = (
        "<table><tr><td>Left<table><tr><td>a</td><td>b</td></tr></table></td>"
        "<td>Right</td></tr></table>"
    )
    assert mail.html_to_text(html) == "Left\na | b\n| Right"


def test_a_reply_has_a_real_date_and_a_subject_without_a_leading_space(mailbox, org):  # noqa: F811
    subject = "Pedido nº 4821 — ¿dónde está mi paquete? Lo pedí hace dos semanas"
    mailbox.deliver(client_mail(subject=subject))
    mailbox.fetch()
    conv = Conversation.objects.get()
    now = timezone.now()
    services.take(conv.pk, f.act(org.op1), now=now)
    services.reply(conv.pk, f.act(org.op1), "Sale mañana.", now=now)
    assert delivery.deliver_due(now) == 1

    raw = mailbox.sent[0].content
    headers = raw.split(b"\r\n\r\n", 1)[0].replace(b"\r\n", b"\n")
    subject_line = next(line for line in headers.split(b"\n") if line.startswith(b"Subject:"))
    assert subject_line.strip() != b"Subject:", headers  # folded after its first word
    sent = email.message_from_bytes(raw, policy=email.policy.default)
    assert sent["Subject"] == f"Re: {subject} [#{conv.pk}]"

    assert not sent["Date"].endswith("-0000")  # "-0000" means "zone unknown"
    date = email.utils.parsedate_to_datetime(sent["Date"])
    assert date.tzinfo is not None and abs(date - timezone.now()) < dt.timedelta(minutes=2)


def test_a_short_ascii_subject_stays_plain_text(mailbox, org):  # noqa: F811
    mailbox.deliver(client_mail(subject="Order 4821"))
    mailbox.fetch()
    conv = Conversation.objects.get()
    services.reply(conv.pk, f.act(org.op1), "Tomorrow.")
    assert delivery.deliver_due(timezone.now()) == 1
    assert f"Subject: Re: Order 4821 [#{conv.pk}]".encode() in mailbox.sent[0].content
