"""Tags and close reasons in bulk from the list: each row through the services, rows in place."""

import pytest

from convodesk.conversations.jobs import BulkJob
from convodesk.conversations.lifecycle import Status
from convodesk.conversations.models import Conversation, ConversationEvent, Tag
from convodesk.conversations.views.prefs import PREF_KEY
from convodesk.lines.models import CloseReason

from .. import factories as f
from ..export.builders import handled

BULK_URL = "/contact-center/conversations/bulk/"


@pytest.fixture(autouse=True)
def _inline_tasks(settings):
    settings.TASKS = {
        "default": {
            **settings.TASKS["default"],
            "BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
        }
    }


@pytest.fixture
def rows(org):
    a = handled(org.conn, "anna", org.op1, start=0, take=10, reply=20)
    b = handled(org.conn, "bert", org.op1, start=100, take=10, reply=20)
    closed = handled(org.conn, "emil", org.op1, start=400, take=10, reply=20, close=30)
    return a, b, closed


def test_bulk_tagging_tags_open_and_closed_rows_and_updates_them_in_place(org, rows, client):
    a, b, closed = rows
    vip = Tag.objects.create(name="VIP", colour="purple")
    org.admin.column_preferences = {PREF_KEY: ["id", "client", "tags", "close_reason"]}
    org.admin.save()
    client.force_login(org.admin)
    response = client.post(
        BULK_URL,
        {"action": "tag", "bulk_tag": vip.pk, "ids": [a.pk, closed.pk]},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "2 conversations tagged." in page
    assert page.count('<span class="tag tag-purple">VIP</span>') == 2  # both rows, in place
    assert Conversation.objects.get(pk=a.pk).tag_ids == [vip.pk]
    assert Conversation.objects.get(pk=closed.pk).tag_ids == [vip.pk]
    assert Conversation.objects.get(pk=b.pk).tag_ids == []
    assert ConversationEvent.objects.filter(kind="tags_changed").count() == 2
    client.post(BULK_URL, {"action": "untag", "bulk_tag": vip.pk, "ids": [a.pk]})
    assert Conversation.objects.get(pk=a.pk).tag_ids == []


def test_bulk_tagging_needs_a_tag_that_is_not_archived(org, rows, client):
    a, *_ = rows
    old = Tag.objects.create(name="Old", archived=True)
    client.force_login(org.admin)
    assert client.post(BULK_URL, {"action": "tag", "ids": [a.pk]}).status_code == 400
    response = client.post(BULK_URL, {"action": "tag", "bulk_tag": old.pk, "ids": [a.pk]})
    assert response.status_code == 400
    assert not BulkJob.objects.exists()


def test_bulk_close_uses_each_open_channels_reason_and_refuses_rows_that_need_one(
    org, rows, client
):
    a, b, _closed = rows
    org.line.close_reason_required = True
    org.line.save()
    solved = CloseReason.objects.create(line=org.line, name="Solved")
    other = f.line("Other", members=[org.op1])
    other_conn = f.connection(other, "api")
    other_solved = CloseReason.objects.create(line=other, name="Solved")
    c = handled(other_conn, "cleo", org.op1, start=500, take=10, reply=20)
    client.force_login(org.admin)
    client.post(BULK_URL, {"action": "close", "ids": [a.pk]})
    job = BulkJob.objects.get()
    assert job.succeeded == 0
    assert job.failures[0]["reason"].startswith("Choose a close reason")
    assert Conversation.objects.get(pk=a.pk).status < Status.CLOSING
    client.post(BULK_URL, {"action": "close", "close_reason": "Solved", "ids": [a.pk, b.pk, c.pk]})
    assert {
        pk: reason
        for pk, reason in Conversation.objects.filter(pk__in=[a.pk, b.pk, c.pk]).values_list(
            "pk", "close_reason_id"
        )
    } == {a.pk: solved.pk, b.pk: solved.pk, c.pk: other_solved.pk}


def test_an_operator_cannot_bulk_tag_conversations_they_may_not_act_on(org, rows, client):
    a, *_ = rows
    vip = Tag.objects.create(name="VIP")
    client.force_login(org.op3)  # another department: op1's conversations are hidden
    client.post(BULK_URL, {"action": "tag", "bulk_tag": vip.pk, "ids": [a.pk]})
    job = BulkJob.objects.get()
    assert job.succeeded == 0 and job.failures[0]["reason"] == "Not found, or not visible to you."
    assert Conversation.objects.get(pk=a.pk).tag_ids == []
