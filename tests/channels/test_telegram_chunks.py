"""A reply Telegram takes in several messages is resumed, not restarted, after a 429."""

import datetime as dt

from django.utils import timezone

from convodesk.connectors import delivery
from convodesk.conversations import services
from convodesk.conversations.models import Conversation

from .. import factories as f
from .fake_telegram import update
from .test_telegram import post_update

TOO_MANY = {
    "ok": False,
    "error_code": 429,
    "description": "Too Many Requests: retry after 5",
    "parameters": {"retry_after": 5},
}


def test_a_429_on_the_second_chunk_does_not_send_the_first_chunk_again(client, tg, org, bot_api):
    post_update(client, tg, update(1, "Hi"))
    conv = Conversation.objects.get()
    now = timezone.now()
    first = "Part one of the answer. " * 180  # ~4,300 characters: split before the limit
    text = (first + "\n" + "And the second part, sent once as well. " * 60).strip()
    bot_api.script(
        "sendMessage",
        200,
        {"ok": True, "result": {"message_id": 501, "date": 1700000000, "chat": {"id": 777}}},
    )
    bot_api.script("sendMessage", 429, TOO_MANY)
    message = services.reply(conv.pk, f.act(org.op1), text, now=now)

    delivery.deliver_due(now)
    message.refresh_from_db()
    assert message.delivery_state == "pending"
    assert message.next_attempt_at == now + dt.timedelta(seconds=5)
    assert message.channel_message_id == "501"  # chunk 1 is known to be out

    assert delivery.deliver_due(now + dt.timedelta(seconds=5)) == 1
    message.refresh_from_db()
    sent = [c["text"] for c in bot_api.calls_of("sendMessage")]
    # chunk 1, chunk 2 refused with 429, then chunk 2 only
    assert len(sent) == 3 and sent[1] == sent[2] and sent[0] != sent[1]
    delivered = [sent[0], sent[2]]
    assert all(len(c) <= 4096 for c in delivered)
    assert " ".join(delivered).split() == text.split()
    assert message.delivery_state == "sent"
    assert message.channel_message_id == f"501,{bot_api.next_message_id}"
