"""Tags and close reasons through the API and the one filter set (issue 19 item 3)."""

import pytest

from convodesk.conversations import services
from convodesk.conversations.models import Conversation, ConversationEvent, ConversationTag, Tag
from convodesk.lines.models import CloseReason

from .. import factories as f


def _conversations(org, n=6):
    return [f.client_message(org.conn, f"client-{i}", "Hello").conversation for i in range(n)]


@pytest.fixture
def tags(db):
    return {
        name: Tag.objects.create(name=name, colour=colour)
        for name, colour in (("Billing", "blue"), ("Urgent", "red"), ("VIP", "purple"))
    }


def test_tags_set_through_the_api_are_recorded_and_answered(org, api_as, tags):
    conv = _conversations(org, 1)[0]
    api = api_as(org.admin)
    status, item = api.post(
        f"/conversations/{conv.pk}/tags", {"add": [tags["Urgent"].pk, tags["Billing"].pk]}
    )
    assert status == 200
    assert [t["name"] for t in item["tags"]] == ["Billing", "Urgent"]
    assert item["tags"][1] == {"id": tags["Urgent"].pk, "name": "Urgent", "colour": "red"}
    status, item = api.post(f"/conversations/{conv.pk}/tags", {"remove": [tags["Billing"].pk]})
    assert [t["name"] for t in item["tags"]] == ["Urgent"]
    events = ConversationEvent.objects.filter(conversation=conv, kind="tags_changed")
    assert [(e.payload["added"], e.payload["removed"]) for e in events] == [
        (
            [
                {"id": tags["Billing"].pk, "name": "Billing"},
                {"id": tags["Urgent"].pk, "name": "Urgent"},
            ],
            [],
        ),
        ([], [{"id": tags["Billing"].pk, "name": "Billing"}]),
    ]
    status, page = api.get("/conversations", {"columns": "id,tags", "tag": tags["Urgent"].pk})
    assert status == 200 and [r["id"] for r in page["items"]] == [conv.pk]


def test_unknown_and_archived_tags_are_refused_with_a_message(org, api_as, tags):
    conv = _conversations(org, 1)[0]
    api = api_as(org.admin)
    status, body = api.post(f"/conversations/{conv.pk}/tags", {"add": [999999]})
    assert status == 422 and "999999" in body["error"]["details"]["add"]
    Tag.objects.filter(pk=tags["VIP"].pk).update(archived=True)
    status, body = api.post(f"/conversations/{conv.pk}/tags", {"add": [tags["VIP"].pk]})
    assert status == 422 and "archived" in body["error"]["details"]["tags"]
    assert not ConversationTag.objects.exists()
    assert Conversation.objects.get(pk=conv.pk).tag_ids == []


def test_close_requires_a_reason_where_the_open_channel_asks_for_one(org, api_as):
    org.line.close_reason_required = True
    org.line.save()
    solved = CloseReason.objects.create(line=org.line, name="Solved")
    other_line = f.line("Other")
    foreign = CloseReason.objects.create(line=other_line, name="Foreign")
    conv = _conversations(org, 1)[0]
    api = api_as(org.op1)
    status, body = api.post(f"/conversations/{conv.pk}/close")
    assert status == 422
    assert body["error"]["details"]["close_reason"].startswith("Choose a close reason")
    status, body = api.post(f"/conversations/{conv.pk}/close", {"close_reason": foreign.pk})
    assert status == 422 and "close_reason" in body["error"]["details"]
    assert Conversation.objects.get(pk=conv.pk).is_open
    status, item = api.post(f"/conversations/{conv.pk}/close", {"close_reason": solved.pk})
    assert status == 200 and item["status"] == "closed"
    assert item["close_reason"] == {"id": solved.pk, "name": "Solved"}
    closed = ConversationEvent.objects.get(conversation=conv, kind="closed")
    assert closed.payload["close_reason"] == "Solved"
    status, reasons = api.get(f"/lines/{org.line.pk}/close-reasons")
    assert status == 200 and reasons == [{"id": solved.pk, "name": "Solved"}]


def test_close_without_a_body_still_works_where_no_reason_is_required(org, api_as):
    conv = _conversations(org, 1)[0]
    status, item = api_as(org.admin).post(f"/conversations/{conv.pk}/close")
    assert status == 200 and item["close_reason"] is None


def test_tag_filters_any_all_and_none(org, tags):
    convs = _conversations(org)
    admin = f.act(org.admin)
    b, u, v = tags["Billing"].pk, tags["Urgent"].pk, tags["VIP"].pk
    plan = {0: [b], 1: [b, u], 2: [u], 3: [b, u, v], 4: []}
    for index, ids in plan.items():
        services.change_tags(convs[index].pk, admin, replace=ids)
    from convodesk.conversations.filters import ConversationFilter

    def found(params):
        flt = ConversationFilter(params)
        assert flt.is_valid(), flt.errors
        ids = set(flt.filter(Conversation.objects.all()).values_list("pk", flat=True))
        return sorted(i for i, c in enumerate(convs) if c.pk in ids)

    assert found({"tag": f"{b}"}) == [0, 1, 3]
    assert found({"tag": f"{b},{u}"}) == [0, 1, 2, 3]
    assert found({"tag_all": f"{b},{u}"}) == [1, 3]
    assert found({"tag_all": f"{b},{u},{v}"}) == [3]
    assert found({"tag_none": f"{b}"}) == [2, 4, 5]
    assert found({"tag_none": f"{b},{u}"}) == [4, 5]
    assert found({"tag": f"{u}", "tag_none": f"{v}"}) == [1, 2]
    assert ConversationFilter({"tag": "x"}).errors["tag"]


def test_close_reason_filters_any_all_and_none(org):
    from convodesk.conversations.filters import ConversationFilter

    solved = CloseReason.objects.create(line=org.line, name="Solved")
    lost = CloseReason.objects.create(line=org.line, name="Lost")
    convs = _conversations(org, 4)
    admin = f.act(org.admin)
    services.close(convs[0].pk, admin, reason=solved.pk)
    services.close(convs[1].pk, admin, reason=lost.pk)
    services.close(convs[2].pk, admin)

    def found(params):
        ids = set(
            ConversationFilter(params)
            .filter(Conversation.objects.all())
            .values_list("pk", flat=True)
        )
        return sorted(i for i, c in enumerate(convs) if c.pk in ids)

    assert found({"close_reason": f"{solved.pk},{lost.pk}"}) == [0, 1]
    assert found({"close_reason_all": f"{solved.pk}"}) == [0]
    assert found({"close_reason_all": f"{solved.pk},{lost.pk}"}) == []
    assert found({"close_reason_none": f"{solved.pk}"}) == [1, 2, 3]


def test_an_operator_tags_only_conversations_they_may_act_on(org, api_as, tags):
    """op3 is in another department: the conversation op1 holds is hidden from them (404)."""
    conv = _conversations(org, 1)[0]
    services.take(conv.pk, f.act(org.op1))
    status, _body = api_as(org.op3).post(
        f"/conversations/{conv.pk}/tags", {"add": [tags["VIP"].pk]}
    )
    assert status == 404
    with pytest.raises(services.NotFound):
        services.change_tags(conv.pk, f.act(org.op3), add=[tags["VIP"].pk])
    assert not ConversationTag.objects.exists()
    status, item = api_as(org.op1).post(f"/conversations/{conv.pk}/tags", {"add": [tags["VIP"].pk]})
    assert status == 200 and item["tags"][0]["name"] == "VIP"


def test_the_openapi_document_types_tags_and_close_reason(org, api_as):
    status, doc = api_as(org.admin).get("/openapi.json")
    assert status == 200
    item = doc["components"]["schemas"]["Item"]["properties"]
    assert item["tags"]["type"] == "array"
    assert item["tags"]["items"]["$ref"].endswith("/TagRef")
    assert "close_reason" in item
    close = doc["paths"]["/api/v1/conversations/{conversation_id}/close"]["post"]
    assert "422" in close["responses"]
