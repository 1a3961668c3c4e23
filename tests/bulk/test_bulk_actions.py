"""Bulk close, spam and transfer from the list: every row through the services, failures reported."""

import pytest

from convodesk.conversations import bulk
from convodesk.conversations.jobs import BulkJob, JobStatus
from convodesk.conversations.lifecycle import Status
from convodesk.conversations.models import Conversation, ConversationEvent

from .. import factories as f
from ..export.builders import handled

BULK_URL = "/contact-center/conversations/bulk/"


def post(client, data, query=""):
    return client.post(BULK_URL + (f"?{query}" if query else ""), data)


def statuses(*convs) -> list[int]:
    return [Conversation.objects.get(pk=c.pk).status for c in convs]


@pytest.fixture
def open_ones(org):
    """Three open conversations op1 answered, one op2 answered, one already closed by op1."""
    a = handled(org.conn, "anna", org.op1, start=0, take=10, reply=20)
    b = handled(org.conn, "bert", org.op1, start=100, take=10, reply=20)
    c = handled(org.conn, "carl", org.op1, start=200, take=10)
    d = handled(org.conn, "dora", org.op2, start=300, take=10, reply=20)
    closed = handled(org.conn, "emil", org.op1, start=400, take=10, reply=20, close=30)
    return a, b, c, d, closed


def test_bulk_close_of_two_rows_closes_each_with_its_own_event_and_reports_the_count(
    org, open_ones, client
):
    a, b, c, *_ = open_ones
    client.force_login(org.admin)
    response = post(
        client, {"action": "close", "ids": [a.pk, b.pk], "filter_query": "status=answered"}
    )
    job = BulkJob.objects.get()
    assert (
        response.status_code == 302
        and response["Location"] == f"/contact-center/conversations/bulk/{job.pk}/"
    )
    assert statuses(a, b, c) == [Status.CLOSED, Status.CLOSED, Status.TAKEN]
    for conv in (a, b):
        closes = ConversationEvent.objects.filter(conversation=conv, kind="closed")
        assert closes.count() == 1 and closes.get().actor == org.admin
    assert (job.status, job.total, job.succeeded, job.failures) == (JobStatus.DONE, 2, 2, [])
    page = client.get(response["Location"]).content.decode()
    assert "2 conversations closed." in page
    assert "/contact-center/conversations/?status=answered" in page  # the way back keeps the filter


def test_a_failing_row_is_reported_and_the_rows_after_it_still_go_through(org, open_ones):
    a, b, _c, _d, closed = open_ones
    # The row was selectable when chosen and got closed before its turn came.
    selection = bulk.Selection([a.pk, closed.pk, 999_999, b.pk])
    job = bulk.start_bulk(org.admin, "close", selection)
    assert statuses(a, b) == [Status.CLOSED, Status.CLOSED]
    assert job.succeeded == 2
    assert [failure["id"] for failure in job.failures] == [closed.pk, 999_999]
    assert all(failure["reason"] for failure in job.failures)
    assert job.failures[1]["reason"] == "Not found, or not visible to you."


def test_closing_or_closed_rows_are_left_out_and_reported_not_acted_on(org, open_ones, client):
    a, _b, _c, _d, closed = open_ones
    events_before = ConversationEvent.objects.filter(conversation=closed).count()
    client.force_login(org.admin)
    response = post(client, {"action": "spam", "ids": [closed.pk, a.pk]})
    job = BulkJob.objects.get()
    assert (
        job.skipped == [{"id": closed.pk, "reason": "Already closed."}] and job.skipped_count == 1
    )
    assert job.ids == [a.pk] and job.succeeded == 1
    assert ConversationEvent.objects.filter(conversation=closed).count() == events_before
    page = client.get(response["Location"]).content.decode()
    assert "1 left out" in page and "Already closed." in page


def test_bulk_spam_marks_each_selected_conversation_as_spam(org, open_ones, client):
    a, b, c, *_ = open_ones
    client.force_login(org.supervisor)
    post(client, {"action": "spam", "ids": f"{a.pk},{c.pk}"})
    a.refresh_from_db(), b.refresh_from_db(), c.refresh_from_db()
    assert (a.status, a.spam, c.status, c.spam) == (Status.SPAM, True, Status.SPAM, True)
    assert b.status == Status.AGENT_REPLIED
    assert ConversationEvent.objects.filter(kind="spam").count() == 2


def test_bulk_transfer_to_another_open_channel_moves_them_and_skips_those_already_there(
    org, open_ones, client
):
    a, b, *_ = open_ones
    other = f.line("Support line", members=[org.op3])
    f.connection(other, "api")
    already = handled(org.conn, "fred", org.op1, start=500, take=5)
    bulk.start_bulk(org.admin, "transfer", bulk.Selection([already.pk]), target_line=other)
    client.force_login(org.admin)
    post(
        client,
        {"action": "transfer", "transfer_to": f"line:{other.pk}", "ids": [a.pk, b.pk, already.pk]},
    )
    job = BulkJob.objects.latest("created_at")
    assert job.succeeded == 2 and job.skipped == [
        {"id": already.pk, "reason": "Already in this open channel."}
    ]
    for conv in (a, b):
        conv.refresh_from_db()
        assert conv.line_id == other.pk and conv.transfer_count == 1
        assert ConversationEvent.objects.filter(conversation=conv, kind="transferred").count() == 1


def test_bulk_transfer_to_an_employee_offers_them_to_that_employee(org, open_ones, client):
    a, b, *_ = open_ones
    client.force_login(org.admin)
    post(
        client, {"action": "transfer", "transfer_to": f"employee:{org.op3.pk}", "ids": [a.pk, b.pk]}
    )
    assert BulkJob.objects.get().succeeded == 2
    mine = Conversation.objects.visible_to(org.op3).filter(pk__in=[a.pk, b.pk])
    assert mine.count() == 2
    assert all(
        e.payload["employee"] == org.op3.pk
        for e in ConversationEvent.objects.filter(kind="transferred")
    )


def test_all_matching_the_filter_acts_on_every_matching_open_row_and_counts_the_rest(
    org, open_ones, client
):
    a, b, c, d, closed = open_ones
    client.force_login(org.admin)
    post(
        client,
        {
            "action": "close",
            "all_matching": "1",
            "ids": [d.pk],
            "filter_query": "responsible=%d" % org.op1.pk,
        },
    )
    job = BulkJob.objects.get()
    assert sorted(job.ids) == sorted([a.pk, b.pk, c.pk])  # not d (op2's), not the closed one
    assert job.skipped_count == 1 and job.succeeded == 3
    assert statuses(a, b, c, d) == [
        Status.CLOSED,
        Status.CLOSED,
        Status.CLOSED,
        Status.AGENT_REPLIED,
    ]


def test_an_operator_cannot_bulk_close_other_operators_conversations(org, open_ones, client):
    a, _b, _c, d, _closed = open_ones
    client.force_login(org.op1)
    post(client, {"action": "close", "ids": [a.pk, d.pk]})
    job = BulkJob.objects.get()
    assert statuses(a, d) == [Status.CLOSED, Status.AGENT_REPLIED]
    assert job.succeeded == 1 and [x["id"] for x in job.failures] == [d.pk]
    assert ConversationEvent.objects.filter(conversation=d, kind="closed").count() == 0
    # "all matching" never reaches beyond what the operator sees either
    client.post(BULK_URL, {"action": "spam", "all_matching": "1", "filter_query": ""})
    assert Conversation.objects.get(pk=d.pk).status == Status.AGENT_REPLIED


@pytest.mark.parametrize(
    "data, field",
    [
        ({"ids": "1"}, "Choose close, mark as spam, transfer, or add or remove a tag."),
        ({"action": "close"}, "Select at least one conversation."),
        ({"action": "close", "ids": "12abc"}, "is not a conversation ID"),
        ({"action": "transfer", "ids": "1"}, "Choose the open channel or the employee"),
        (
            {"action": "transfer", "ids": "1", "transfer_to": "line:999999"},
            "Choose the open channel or the employee",
        ),
        (
            {"action": "close", "all_matching": "1", "filter_query": "started_from=soon"},
            "not a valid date",
        ),
    ],
)
def test_bad_bulk_requests_are_a_readable_400_and_change_nothing(
    org, open_ones, client, data, field
):
    client.force_login(org.admin)
    response = post(client, data)
    assert response.status_code == 400
    assert field in response.content.decode()
    assert not BulkJob.objects.exists()
    assert not ConversationEvent.objects.filter(actor=org.admin).exists()


def test_anonymous_visitors_cannot_post_bulk_actions(org, open_ones, client):
    response = post(client, {"action": "close", "ids": [open_ones[0].pk]})
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert statuses(open_ones[0]) == [Status.AGENT_REPLIED]


def test_the_transfer_menu_offers_active_open_channels_and_employees(org, client):
    f.line("Closed line", active=False)
    client.force_login(org.op1)
    html = client.get("/contact-center/conversations/bulk/targets/").content.decode()
    assert f'value="line:{org.line.pk}"' in html and "Closed line" not in html
    assert f'value="employee:{org.op3.pk}"' in html
