"""What employees type goes through the same cleaning as what clients send (adversarial pass:
a NUL in a reply, a transfer comment or a token name was a 500 on PostgreSQL, and escape
sequences were stored as typed)."""

import pytest
from django.test import Client

from convodesk.api.models import ApiToken
from convodesk.conversations import services
from convodesk.conversations.models import ConversationEvent, Message
from tests import factories as f


@pytest.fixture
def held(org):
    conv = f.client_message(org.conn, "c1", "hi").conversation
    services.take(conv.pk, f.act(org.op1))
    client = Client()
    client.force_login(org.op1)
    return conv, client


@pytest.mark.django_db
def test_a_reply_typed_with_nul_and_escape_sequences_is_stored_clean(org, held):
    conv, client = held
    response = client.post(
        f"/contact-center/workspace/c/{conv.pk}/reply/", {"text": "hi\x00there \x1b[31mred\x01"}
    )
    assert response.status_code == 200
    assert Message.objects.filter(conversation=conv).last().text == "hithere [31mred"


@pytest.mark.django_db
def test_a_reply_of_control_characters_only_is_refused_as_empty(org, held):
    conv, _client = held
    with pytest.raises(services.IllegalTransition):
        services.reply(conv.pk, f.act(org.op1), "\x00\x01 \x02")
    assert Message.objects.filter(conversation=conv).count() == 1


@pytest.mark.django_db
def test_a_transfer_comment_with_nul_is_stored_clean(org, held):
    conv, client = held
    other = f.line("Other line", members=[org.op2])
    response = client.post(
        f"/contact-center/workspace/c/{conv.pk}/transfer/", {"line": other.pk, "comment": "x\x00y"}
    )
    assert response.status_code < 500
    payloads = ConversationEvent.objects.filter(conversation=conv).values_list("payload", flat=True)
    assert any(p.get("comment") == "xy" for p in payloads)


@pytest.mark.django_db
def test_an_api_token_named_with_nul_is_created_with_the_name_cleaned(org):
    client = Client()
    client.force_login(org.op1)
    response = client.post("/account/tokens/", {"action": "create", "name": "t\x00n\x1b"})
    assert response.status_code == 302
    assert ApiToken.objects.get(user=org.op1).name == "tn"
