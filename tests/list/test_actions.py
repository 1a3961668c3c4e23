"""Row actions go through the services, are offered only to those allowed, and show refusals."""

import re

from convodesk.conversations import services
from convodesk.conversations.lifecycle import Status
from convodesk.conversations.models import Conversation, ConversationEvent

from .. import factories as f

LIST = "/contact-center/conversations/"


def _row(html, pk):
    row = html.split(f'<tr id="row-{pk}"')[1].split("</tr>")[0]
    return re.sub(r"\s+", " ", row)


def _menu(client, pk):
    """A row's menu, as the grid loads it when it is opened (it is not part of the page)."""
    response = client.get(f"{LIST}{pk}/menu/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return re.sub(r"\s+", " ", response.content.decode())


def test_end_is_worded_by_who_holds_the_conversation(convs, client):
    client.force_login(convs.org.admin)
    assert "Take and end" in _menu(client, convs.unassigned.pk)
    assert "End for the current employee" in _menu(client, convs.op1.pk)
    client.force_login(convs.org.op1)
    menu = _menu(client, convs.op1.pk)
    assert '">End</button>' in menu and "current employee" not in menu


def test_the_row_menu_is_loaded_when_opened_not_carried_by_every_row(convs, client):
    client.force_login(convs.org.admin)
    row = _row(client.get(LIST + "?view=all").content.decode(), convs.unassigned.pk)
    assert 'data-load="menu"' in row and "Take and end" not in row and "hx-post" not in row
    client.force_login(convs.org.op1)
    hidden = client.get(f"{LIST}{convs.op2.pk}/menu/", HTTP_HX_REQUEST="true")
    assert hidden.status_code == 404  # not visible to op1: the same rule as the grid


def test_closed_rows_offer_neither_end_nor_spam_and_cannot_be_selected(convs, client):
    client.force_login(convs.org.admin)
    menu = _menu(client, convs.op3.pk)
    assert 'data-action="end"' not in menu and 'data-action="spam"' not in menu
    row = _row(client.get(LIST + "?view=all").content.decode(), convs.op3.pk)
    assert (
        f'name="ids" value="{convs.op3.pk}" form="bulk-form" aria-label' in row
        and "disabled" in row
    )


def test_end_for_the_current_employee_closes_through_the_services(convs, client):
    client.force_login(convs.org.admin)
    response = client.post(f"{LIST}{convs.op1.pk}/end/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert (
        f'<tr id="row-{convs.op1.pk}"' in html and "ended" in html and 'hx-swap-oob="true"' in html
    )
    convs.op1.refresh_from_db()
    assert convs.op1.status == Status.CLOSED and convs.op1.responsible_id == convs.org.op1.pk
    assert ConversationEvent.objects.filter(
        conversation=convs.op1, kind="closed", actor=convs.org.admin
    ).exists()


def test_take_and_end_closes_an_unassigned_conversation_without_a_take(convs, client):
    client.force_login(convs.org.admin)
    response = client.post(f"{LIST}{convs.unassigned.pk}/end/", {"next": LIST})
    assert response.status_code == 302
    conv = Conversation.objects.get(pk=convs.unassigned.pk)
    assert (
        conv.status == Status.CLOSED and conv.taken_at is None and conv.agent_response_time is None
    )


def test_force_end_marks_spam_and_a_second_try_is_refused_clearly(convs, client):
    client.force_login(convs.org.supervisor)
    client.post(f"{LIST}{convs.op2.pk}/spam/", HTTP_HX_REQUEST="true")
    convs.op2.refresh_from_db()
    assert convs.op2.status == Status.SPAM
    again = client.post(f"{LIST}{convs.op2.pk}/spam/", HTTP_HX_REQUEST="true")
    assert again.status_code == 200
    assert "toast-error" in again.content.decode()


def test_without_htmx_a_refusal_is_a_message_on_the_list(convs, client):
    client.force_login(convs.org.admin)
    response = client.post(f"{LIST}{convs.op3.pk}/end/", {"next": LIST + "?view=all"}, follow=True)
    assert response.status_code == 200
    assert 'class="flash-error"' in response.content.decode()


def test_an_operator_without_the_act_level_on_a_row_gets_no_actions(convs, client):
    client.force_login(convs.org.op1)
    html = client.get(LIST + "?view=all").content.decode()
    assert f"{convs.op2.pk}/end/" not in html


def test_start_conversation_on_a_channel_that_cannot_start_is_refused(convs, client):
    client.force_login(convs.org.admin)
    # op3's conversation is closed and the api connection has no reply webhook.
    response = client.get(f"{LIST}{convs.op3.pk}/start/")
    assert response.status_code == 200
    assert "can start a conversation with this client" in response.content.decode()


def test_start_conversation_shows_the_open_one_instead_of_a_second(convs, client):
    client.force_login(convs.org.admin)
    html = client.get(f"{LIST}{convs.op1.pk}/start/").content.decode()
    assert f"already has an open conversation #{convs.op1.pk}" in html


def test_start_conversation_sends_an_outgoing_message_by_email(convs, client):
    services.close(convs.unassigned.pk, f.act(convs.org.admin))
    client.force_login(convs.org.admin)
    page = client.get(f"{LIST}{convs.unassigned.pk}/start/").content.decode()
    identity = re.search(r'<option value="(\d+)"', page).group(1)
    empty = client.post(f"{LIST}{convs.unassigned.pk}/start/", {"identity": identity, "text": "  "})
    assert empty.status_code == 422 and "The message is empty." in empty.content.decode()
    response = client.post(
        f"{LIST}{convs.unassigned.pk}/start/", {"identity": identity, "text": "Hi Dan"}
    )
    assert response.status_code == 302
    new = Conversation.objects.get(type="outgoing")
    assert new.client_id == convs.unassigned.client_id and new.responsible_id == convs.org.admin.pk
    assert response["Location"].endswith(f"?id={new.pk}")


def test_supervisor_rating_is_offered_and_accepted_only_where_allowed(convs, client):
    client.force_login(convs.org.supervisor)
    html = client.get(LIST + "?view=all").content.decode()
    assert f'id="rate-box-{convs.op1.pk}"' in html
    editor = client.get(f"{LIST}{convs.op1.pk}/rate/", HTTP_HX_REQUEST="true").content.decode()
    assert f'name="rating-{convs.op1.pk}"' in editor and "<html" not in editor
    response = client.post(
        f"{LIST}{convs.op1.pk}/rate/",
        {f"rating-{convs.op1.pk}": "4", f"comment-{convs.op1.pk}": "Kind and quick"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200 and "4 of 5 stars" in response.content.decode()
    convs.op1.refresh_from_db()
    assert (convs.op1.supervisor_rating, convs.op1.supervisor_comment) == (4, "Kind and quick")
    bad = client.post(f"{LIST}{convs.op1.pk}/rate/", {"rating": "9"})
    assert bad.status_code == 422 and "1 to 5" in bad.content.decode()

    client.force_login(convs.org.op1)  # Manager role: rate level none
    html = client.get(LIST + "?view=all").content.decode()
    assert "rate-box-" not in html and "/rate/" not in html
    assert client.get(f"{LIST}{convs.op1.pk}/rate/").status_code == 404
    client.post(f"{LIST}{convs.op1.pk}/rate/", {"rating": "1"})
    convs.op1.refresh_from_db()
    assert convs.op1.supervisor_rating == 4


def test_the_history_shows_messages_and_lifecycle_events_with_actors(convs, client):
    client.force_login(convs.org.admin)
    html = client.get(f"{LIST}{convs.op3.pk}/history/").content.decode()
    for text in ("Refund please", "Done", "Taken", "Closed", "Op3", "Print"):
        assert text in html
    assert html.index("Refund please") < html.index("Taken") < html.index("Done")
