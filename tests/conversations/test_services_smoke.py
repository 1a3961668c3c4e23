from convodesk.conversations import services
from convodesk.conversations.lifecycle import Status
from convodesk.conversations.models import Conversation

from .. import factories as f


def test_a_client_message_is_offered_then_taken_answered_and_closed_with_its_metrics(org):
    r = f.client_message(org.conn, "c1", "Hi", when=f.at(0))
    conv = r.conversation
    assert conv.status == Status.NEW and r.created
    assert (
        Conversation.objects.visible_to(org.op1).filter(pk=conv.pk).exists()
    )  # offered to all members
    services.take(conv.pk, f.act(org.op1), now=f.at(30))
    services.reply(conv.pk, f.act(org.op1), "Hello!", now=f.at(95))
    f.client_message(org.conn, "c1", "Thanks", when=f.at(120))
    services.reply(conv.pk, f.act(org.op1), "You're welcome", now=f.at(180))
    services.close(conv.pk, f.act(org.op1), now=f.at(200))
    conv.refresh_from_db()
    assert conv.status == Status.CLOSED and conv.closed_by == "employee"
    assert (
        conv.agent_response_time,
        conv.first_answer_wait,
        conv.duration,
        conv.time_to_agent_close,
    ) == (30, 95, 180, 200)
    assert (
        conv.reply_time_first,
        conv.reply_time_total,
        conv.reply_time_avg,
        conv.reply_time_max,
    ) == (95, 155, 77, 95)
    assert conv.message_count == 4
    assert not Conversation.objects.visible_to(org.op2).filter(pk=conv.pk).exists()
    assert Conversation.objects.visible_to(org.supervisor).filter(pk=conv.pk).exists()
