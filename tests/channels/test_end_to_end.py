"""The whole path on each channel: the client writes, an operator takes and replies in the
workspace, the client's side receives the reply, the operator closes, the list shows the metrics."""

import email
import email.policy
import json

import pytest
from django.utils import timezone

from convodesk.connectors import delivery
from convodesk.conversations.columns import humanize_duration
from convodesk.conversations.lifecycle import Status, seconds_between
from convodesk.conversations.models import Conversation

from .fake_telegram import update
from .test_email import client_mail, mailbox  # noqa: F401 - fixtures


def work_in_workspace(client, operator, conv):
    client.force_login(operator)
    assert client.post(f"/contact-center/workspace/c/{conv.pk}/take/").status_code == 200
    assert (
        client.post(
            f"/contact-center/workspace/c/{conv.pk}/reply/", {"text": "Hello, happy to help!"}
        ).status_code
        == 200
    )
    assert delivery.deliver_due(timezone.now()) == 1


def close_and_check_the_list(client, conv):
    assert client.post(f"/contact-center/workspace/c/{conv.pk}/close/").status_code == 200
    conv.refresh_from_db()
    assert conv.status == Status.CLOSED and conv.closed_by == "employee"
    reply = conv.messages.get(author_kind="employee")
    assert conv.agent_response_time == seconds_between(conv.started_at, conv.taken_at)
    assert conv.first_answer_wait == seconds_between(conv.started_at, reply.created_at)
    assert conv.duration == seconds_between(conv.started_at, reply.created_at)
    assert conv.time_to_agent_close == seconds_between(conv.started_at, conv.agent_closed_at)
    page = client.get(f"/contact-center/conversations/?id={conv.pk}&status=closed")
    assert page.status_code == 200
    html = page.content.decode()
    assert f">{conv.pk}<" in html
    assert humanize_duration(conv.time_to_agent_close) in html


@pytest.mark.django_db
def test_telegram_client_to_operator_and_back(client, org, tg, bot_api):  # noqa: F811
    response = client.post(
        f"/connectors/telegram/{tg.pk}/webhook/",
        data=json.dumps(update(1, "Is my order shipped?")),
        content_type="application/json",
        headers={"X-Telegram-Bot-Api-Secret-Token": tg.secret},
    )
    assert response.status_code == 200
    conv = Conversation.objects.get()
    work_in_workspace(client, org.op1, conv)
    assert bot_api.calls_of("sendMessage") == [{"chat_id": "777", "text": "Hello, happy to help!"}]
    close_and_check_the_list(client, conv)


@pytest.mark.django_db
def test_email_client_to_operator_and_back(client, org, mailbox):  # noqa: F811
    mailbox.deliver(client_mail())
    mailbox.fetch()
    conv = Conversation.objects.get()
    work_in_workspace(client, org.op1, conv)
    sent = email.message_from_bytes(mailbox.sent[0].content, policy=email.policy.default)
    assert sent["To"] == "ana.lopez@example.net" and "Hello, happy to help!" in sent.get_content()
    close_and_check_the_list(client, conv)
