import pytest

from convodesk.conversations import services
from convodesk.conversations.lifecycle import IllegalTransition
from convodesk.conversations.models import Conversation, ConversationEvent

from .. import factories as f


@pytest.fixture
def held_by_op1(org):
    conv = f.client_message(org.conn, "c1", "Hello", when=f.at(0)).conversation
    services.take(conv.pk, f.act(org.op1), now=f.at(5))
    return conv


def test_a_supervisor_joins_as_an_extra_participant_and_the_responsible_stays(org, held_by_op1):
    services.join(held_by_op1.pk, f.act(org.supervisor), now=f.at(10))
    conv = Conversation.objects.get(pk=held_by_op1.pk)
    assert conv.responsible_id == org.op1.pk
    assert ConversationEvent.objects.filter(
        conversation=conv, kind="joined", actor=org.supervisor
    ).exists()
    services.reply(
        conv.pk, f.act(org.supervisor), "I'm the supervisor, happy to help", now=f.at(20)
    )
    assert Conversation.objects.get(pk=conv.pk).responsible_id == org.op1.pk


def test_joining_twice_records_it_once(org, held_by_op1):
    services.join(held_by_op1.pk, f.act(org.admin), now=f.at(10))
    services.join(held_by_op1.pk, f.act(org.admin), now=f.at(11))
    assert ConversationEvent.objects.filter(conversation=held_by_op1, kind="joined").count() == 1


def test_an_operator_cannot_join_a_conversation_outside_their_scope(org, held_by_op1):
    with pytest.raises(services.NotFound):
        services.join(held_by_op1.pk, f.act(org.op3), now=f.at(10))


def test_a_closed_conversation_cannot_be_joined(org, held_by_op1):
    services.close(held_by_op1.pk, f.act(org.op1), now=f.at(10))
    with pytest.raises(IllegalTransition):
        services.join(held_by_op1.pk, f.act(org.admin), now=f.at(11))


def test_start_conversation_on_a_row_whose_client_has_an_open_one_joins_it(
    client, org, held_by_op1
):
    client.force_login(org.admin)
    page = client.get(f"/contact-center/conversations/{held_by_op1.pk}/start/")
    assert page.status_code == 200 and "Join as an extra participant" in page.content.decode()
    response = client.post(f"/contact-center/conversations/{held_by_op1.pk}/start/", {"join": "1"})
    assert response.status_code == 302 and response["Location"].endswith(f"?c={held_by_op1.pk}")
    assert held_by_op1.participants.get(employee=org.admin).joined
