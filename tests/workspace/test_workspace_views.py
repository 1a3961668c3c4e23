"""The workspace screen and its actions: through the services, refusals as messages, never a 500."""

import pytest
from django.urls import reverse

from convodesk.conversations import services
from convodesk.conversations.models import Conversation
from convodesk.workspace.models import QuickReply
from tests import factories as f

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def queued(org):
    return f.client_message(org.conn, "client-ws", XSS).conversation


def post(client, conv, name, **data):
    return client.post(f"/contact-center/workspace/c/{conv.pk}/{name}/", data)


def test_the_queue_shows_what_is_offered_to_me_and_client_text_stays_text(client, org, queued):
    client.force_login(org.op1)
    page = client.get(reverse("workspace:workspace")).content.decode()
    assert f'data-open="{queued.pk}"' in page
    assert XSS not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    detail = client.get(f"/contact-center/workspace/?c={queued.pk}").content.decode()
    assert XSS not in detail and "Answer" in detail


def test_an_employee_who_is_not_offered_the_conversation_cannot_open_it(client, org, queued):
    outsider = f.employee("outsider")
    client.force_login(outsider)
    response = client.get(f"/contact-center/workspace/c/{queued.pk}/")
    assert response.status_code == 404
    assert "no longer available" in response.content.decode()
    assert post(client, queued, "take").status_code == 404
    queued.refresh_from_db()
    assert queued.responsible_id is None


def test_answer_reply_pin_and_close_go_through_the_services(client, org, queued):
    client.force_login(org.op1)
    assert post(client, queued, "take").status_code == 200
    response = post(client, queued, "reply", text="Hello <b>there</b>")
    assert response.status_code == 200
    assert "Hello &lt;b&gt;there&lt;/b&gt;" in response.content.decode()
    assert post(client, queued, "pin").status_code == 200
    queued.refresh_from_db()
    assert queued.pinned and queued.responsible_id == org.op1.pk and queued.status == 40
    assert post(client, queued, "close").status_code == 200
    queued.refresh_from_db()
    assert queued.status == 60


def test_answering_a_conversation_someone_else_took_a_moment_ago_is_a_clear_message(
    client, org, queued
):
    services.take(queued.pk, f.act(org.op2))
    client.force_login(org.admin)
    response = post(client, queued, "take")
    assert response.status_code == 409
    assert "Another employee has already taken this conversation." in response.content.decode()


def test_an_offered_operator_who_answers_too_late_is_told_someone_else_took_it(client, org, queued):
    services.take(queued.pk, f.act(org.op2))
    client.force_login(org.op1)
    response = post(client, queued, "take")
    assert response.status_code == 404
    assert "Another employee has already taken this conversation." in response.content.decode()


def test_an_unknown_action_and_a_bad_transfer_are_client_errors(client, org, queued):
    client.force_login(org.op1)
    assert post(client, queued, "explode").status_code == 404
    assert post(client, queued, "transfer").status_code == 400
    assert (
        post(client, queued, "transfer", employee=org.op2.pk, line=org.line.pk).status_code == 400
    )
    assert client.get(f"/contact-center/workspace/c/{queued.pk}/take/").status_code == 405
    assert client.get("/contact-center/workspace/?c=abc").status_code == 200


def test_transfer_to_an_employee_with_a_comment(client, org, queued):
    client.force_login(org.op1)
    post(client, queued, "take")
    response = post(
        client, queued, "transfer", employee=org.op2.pk, comment="VIP, knows about order 7"
    )
    assert response.status_code == 200
    queued.refresh_from_db()
    assert queued.responsible_id == org.op2.pk and queued.transfer_count == 1
    client.force_login(org.op2)
    page = client.get(f"/contact-center/workspace/?c={queued.pk}").content.decode()
    assert "VIP, knows about order 7" in page


def test_skip_in_strict_order_offers_the_next_member(client, org):
    line = f.line("Strict", members=[org.op1, org.op2], distribution="strict")
    conv = f.client_message(f.connection(line, "api"), "c9", "hi").conversation
    assert conv.responsible_id == org.op1.pk
    client.force_login(org.op1)
    assert post(client, conv, "skip").status_code == 200
    conv.refresh_from_db()
    assert conv.responsible_id == org.op2.pk


def test_my_conversations_show_unread_counts_and_pinned_first(client, org):
    a = f.client_message(org.conn, "ca", "one").conversation
    b = f.client_message(org.conn, "cb", "two").conversation
    for conv in (a, b):
        services.take(conv.pk, f.act(org.op1))
    services.pin(a.pk, f.act(org.op1))
    f.client_message(org.conn, "cb", "three")
    client.force_login(org.op1)
    response = client.get("/contact-center/workspace/list/")
    mine = [c for c in response.context["mine"]]
    assert [c.pk for c in mine] == [a.pk, b.pk]
    assert {c.pk: c.unread for c in mine} == {a.pk: 1, b.pk: 2}
    client.get(f"/contact-center/workspace/c/{b.pk}/")
    mine = client.get("/contact-center/workspace/list/").context["mine"]
    assert {c.pk: c.unread for c in mine}[b.pk] == 0


def test_quick_replies_of_the_line_are_offered_in_the_composer(client, org, queued):
    QuickReply.objects.create(line=org.line, title="Greeting", text="Hello, how can I help?")
    client.force_login(org.op1)
    page = client.get(f"/contact-center/workspace/?c={queued.pk}").content.decode()
    assert 'data-quick="Hello, how can I help?"' in page


def test_the_client_pane_links_past_conversations_and_the_crm_card(client, org, queued):
    services.take(queued.pk, f.act(org.op1))
    services.close(queued.pk, f.act(org.op1))
    second = f.client_message(org.conn, "client-ws", "back again").conversation
    Conversation.objects.filter(pk=second.pk).update(
        crm_entity_type="lead", crm_entity_id=42, crm_title="Lead 42"
    )
    client.force_login(org.admin)
    page = client.get(f"/contact-center/workspace/?c={second.pk}").content.decode()
    assert f'href="/contact-center/conversations/{queued.pk}/history/"' in page
    assert 'href="/crm/leads/42/"' in page
    # A company's card is /crm/companies/…, not "companys" (the link was built by appending "s").
    Conversation.objects.filter(pk=second.pk).update(crm_entity_type="company", crm_entity_id=7)
    page = client.get(f"/contact-center/workspace/?c={second.pk}").content.decode()
    assert 'href="/crm/companies/7/"' in page


def test_the_availability_switch_sets_away_and_online(client, org):
    client.force_login(org.op1)
    assert (
        client.post("/contact-center/workspace/availability/", {"status": "away"}).status_code
        == 200
    )
    org.op1.refresh_from_db()
    assert org.op1.availability == "away"
    assert (
        client.post("/contact-center/workspace/availability/", {"status": "busy"}).status_code
        == 400
    )
    client.post("/contact-center/workspace/availability/", {"status": "online"})
    org.op1.refresh_from_db()
    assert org.op1.availability == "online"


def test_anonymous_visitors_are_sent_to_the_login(client):
    response = client.get("/contact-center/workspace/")
    assert response.status_code == 302 and "/login/" in response["Location"]
