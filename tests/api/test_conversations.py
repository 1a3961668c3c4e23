"""The conversation list, one conversation, its messages and events, the event feed and export:
each obeys the one visibility rule, the one filter set and the column registry."""

import io

import openpyxl
import pytest

from convodesk.conversations import services
from convodesk.conversations.columns import COLUMNS, api_item
from convodesk.conversations.filters import FILTER_PARAMS
from convodesk.conversations.models import Conversation
from tests import factories as f

from .conftest import Api, assert_error, token_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def convs(org):
    """a: op1 took and answered it; b: op3 took it; c: still offered to the whole line."""
    a = f.client_message(
        org.conn, "client-a", "I need a quote", when=f.at(0), name="Alice"
    ).conversation
    services.take(a.pk, f.act(org.op1), now=f.at(12))
    services.reply(a.pk, f.act(org.op1), "Sure", now=f.at(40))
    b = f.client_message(
        org.conn, "client-b", "My order is late", when=f.at(100), name="Bob"
    ).conversation
    services.take(b.pk, f.act(org.op3), now=f.at(130))
    c = f.client_message(org.conn, "client-c", "Hello?", when=f.at(200), name="Carol").conversation

    class Convs:
        pass

    result = Convs()
    result.a, result.b, result.c = (Conversation.objects.get(pk=x.pk) for x in (a, b, c))
    return result


def ids(body):
    return [item["id"] for item in body["items"]]


def test_each_item_carries_every_column_of_the_registry(org, convs, api_as):
    status, body = api_as(org.admin).get("/conversations")
    assert status == 200
    assert ids(body) == [convs.c.pk, convs.b.pk, convs.a.pk]  # newest first
    assert body["count"] == 3 and body["count_exact"] is True and body["next_cursor"] is None
    item = next(i for i in body["items"] if i["id"] == convs.a.pk)
    expected_keys = set(api_item(convs.a))
    assert set(item) == expected_keys and set(COLUMNS) <= expected_keys | {
        "crm_record",
        "crm_activity",
        "status_detail",
    }
    assert item["status"] == "answered" and item["status_detail"] == "agent_replied"
    assert (
        item["status_detail_code"] == 40 and item["channel"] == "api" and item["type"] == "incoming"
    )
    assert item["responsible"] == {"id": org.op1.pk, "name": org.op1.name}
    assert item["line"] == {"id": org.line.pk, "name": org.line.name}
    assert item["started_at"] == "2026-11-02T09:00:00Z"
    assert (
        item["agent_response_time"] == 12
        and item["first_answer_wait"] == 40
        and item["duration"] == 40
    )
    assert item["time_to_agent_close"] is None


def test_an_operator_token_never_sees_another_operators_conversation(org, convs, api_as):
    op1, op3 = api_as(org.op1), api_as(org.op3)
    assert sorted(ids(op1.get("/conversations")[1])) == sorted([convs.a.pk, convs.c.pk])
    assert sorted(ids(op3.get("/conversations")[1])) == sorted([convs.b.pk, convs.c.pk])
    for path in (
        f"/conversations/{convs.b.pk}",
        f"/conversations/{convs.b.pk}/messages",
        f"/conversations/{convs.b.pk}/events",
    ):
        hidden = assert_error(op1.get(path), 404, "not_found")
        missing = assert_error(op1.get(path.replace(str(convs.b.pk), "987654")), 404, "not_found")
        assert hidden == missing
    feed = op1.get("/events")[1]
    assert feed["items"] and convs.b.pk not in {e["conversation_id"] for e in feed["items"]}
    assert {e["conversation_id"] for e in feed["items"]} == {convs.a.pk, convs.c.pk}


def test_a_supervisor_sees_the_department_and_an_admin_everything(org, convs, api_as):
    assert sorted(ids(api_as(org.supervisor).get("/conversations")[1])) == sorted(
        [convs.a.pk, convs.c.pk]
    )
    assert len(ids(api_as(org.admin).get("/conversations")[1])) == 3


def test_filters_take_the_stable_keys_of_the_filter_set(org, convs, api_as):
    api = api_as(org.admin)
    assert ids(api.get("/conversations", {"status": "answered"})[1]) == [convs.a.pk]
    assert sorted(ids(api.get("/conversations", {"status": "waiting,answered"})[1])) == sorted(
        [convs.a.pk, convs.b.pk, convs.c.pk]
    )
    assert ids(api.get("/conversations", {"status_detail": "taken"})[1]) == [convs.b.pk]
    assert ids(api.get("/conversations", {"responsible": "none"})[1]) == [convs.c.pk]
    assert ids(api.get("/conversations", {"responsible": str(org.op3.pk)})[1]) == [convs.b.pk]
    assert ids(api.get("/conversations", {"client": "ali"})[1]) == [convs.a.pk]
    assert ids(api.get("/conversations", {"agent_response_time_min": "20"})[1]) == [convs.b.pk]
    assert ids(api.get("/conversations", {"agent_replied": "true"})[1]) == [convs.a.pk]
    assert ids(api.get("/conversations", {"channel": "telegram"})[1]) == []
    assert (
        ids(
            api.get("/conversations", {"started_from": "2026-11-02", "started_to": "2026-11-02"})[1]
        )
        != []
    )
    assert ids(api.get("/conversations", {"sort": "agent_response_time"})[1]) == [
        convs.a.pk,
        convs.b.pk,
        convs.c.pk,
    ]


def test_every_filter_of_the_filter_set_is_a_documented_query_parameter(org, api_as):
    status, schema = api_as(org.admin).get("/openapi.json")
    assert status == 200
    params = {p["name"] for p in schema["paths"]["/api/v1/conversations"]["get"]["parameters"]}
    assert FILTER_PARAMS <= params and {"limit", "cursor", "updated_since"} <= params


def test_bad_filter_values_and_unknown_parameters_are_422_naming_them(org, convs, api_as):
    api = api_as(org.admin)
    for params, name in [
        ({"status": "sleeping"}, "status"),
        ({"started_from": "02/11/2026"}, "started_from"),
        ({"duration_min": "ten"}, "duration_min"),
        ({"sort": "excerpt"}, "sort"),
        ({"colour": "blue"}, "colour"),
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"cursor": "garbage"}, "cursor"),
        ({"updated_since": "soon"}, "updated_since"),
        ({"columns": "id,nope"}, "columns"),
        ({"line": "abc"}, "line"),
    ]:
        error = assert_error(api.get("/conversations", params), 422, "validation_error")
        assert name in error["details"], (params, error)
        assert name in error["message"]


def test_cursor_pages_cover_every_row_once_in_any_sort(org, convs, api_as):
    api = api_as(org.admin)
    for sort in (
        "-started_at",
        "agent_response_time",
        "-agent_response_time",
        "line",
        "id",
        "-responsible",
    ):
        seen, cursor = [], None
        while True:
            params = {"limit": "1", "sort": sort}
            if cursor:
                params["cursor"] = cursor
            status, body = api.get("/conversations", params)
            assert status == 200, body
            seen += ids(body)
            assert body["count"] == 3
            cursor = body["next_cursor"]
            if not cursor:
                break
        assert sorted(seen) == sorted([convs.a.pk, convs.b.pk, convs.c.pk]) and len(seen) == 3, sort


def test_a_cursor_from_another_sort_is_refused_not_a_500(org, convs, api_as):
    api = api_as(org.admin)
    cursor = api.get("/conversations", {"limit": "1"})[1]["next_cursor"]
    error = assert_error(
        api.get("/conversations", {"limit": "1", "sort": "message_count", "cursor": cursor}), 422
    )
    assert "cursor" in error["details"]


def test_updated_since_returns_only_the_delta(org, convs, api_as):
    api = api_as(org.admin)
    assert len(ids(api.get("/conversations", {"updated_since": "2026-11-02T09:01:00Z"})[1])) == 2
    assert ids(api.get("/conversations", {"updated_since": "2030-01-01T00:00:00Z"})[1]) == []


def test_columns_narrow_the_items(org, convs, api_as):
    body = api_as(org.admin).get("/conversations", {"columns": "id,status_detail"})[1]
    assert set(body["items"][0]) == {"id", "status_detail", "status_detail_code"}


def test_one_conversation_with_its_messages_and_events(org, convs, api_as):
    api = api_as(org.op1)
    status, item = api.get(f"/conversations/{convs.a.pk}")
    assert status == 200 and item["id"] == convs.a.pk and item["agent_response_time"] == 12
    status, page = api.get(f"/conversations/{convs.a.pk}/messages")
    assert status == 200 and [m["text"] for m in page["items"]] == ["I need a quote", "Sure"]
    assert page["items"][1]["author"] == {"id": org.op1.pk, "name": org.op1.name}
    first = api.get(f"/conversations/{convs.a.pk}/messages", {"limit": "1"})[1]
    rest = api.get(
        f"/conversations/{convs.a.pk}/messages", {"limit": "1", "cursor": first["next_cursor"]}
    )[1]
    assert [m["text"] for m in first["items"] + rest["items"]] == ["I need a quote", "Sure"]
    assert_error(api.get(f"/conversations/{convs.a.pk}/messages", {"cursor": "x"}), 422)
    status, events = api.get(f"/conversations/{convs.a.pk}/events")
    kinds = [e["kind"] for e in events["items"]]
    assert (
        status == 200 and kinds[0] == "created" and "taken" in kinds and "employee_message" in kinds
    )
    taken = next(e for e in events["items"] if e["kind"] == "taken")
    assert taken["actor"]["id"] == org.op1.pk and taken["to_status"] == "taken"


def test_history_needs_the_view_history_permission(org, convs, api_as):
    from convodesk.accounts.models import Role

    viewer = f.employee(
        "viewer", roles=[Role.objects.create(name="List only", view_conversations=30)]
    )
    api = api_as(viewer)
    assert api.get(f"/conversations/{convs.a.pk}")[0] == 200
    assert_error(api.get(f"/conversations/{convs.a.pk}/messages"), 403, "forbidden")
    assert_error(api.get(f"/conversations/{convs.a.pk}/events"), 403)


def test_the_event_feed_resumes_after_an_id_in_order(org, convs, api_as):
    api = api_as(org.admin)
    everything = api.get("/events")[1]["items"]
    event_ids = [e["id"] for e in everything]
    assert event_ids == sorted(event_ids)
    later = api.get("/events", {"after": str(event_ids[2]), "limit": "2"})[1]
    assert [e["id"] for e in later["items"]] == event_ids[3:5] and later["last_id"] == event_ids[4]
    assert_error(api.get("/events", {"after": "-1"}), 422)
    assert_error(api.get("/events", {"limit": "0"}), 422)
    assert_error(Api().get("/events"), 401)


def _rows(response) -> list[list]:
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    return [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]


def test_export_streams_only_the_visible_filtered_rows(org, convs, api_as):
    status, response = api_as(org.op1).get("/conversations/export.xlsx", {"columns": "id,status"})
    assert status == 200 and response["Content-Type"].startswith("application/vnd.openxmlformats")
    rows = _rows(response)
    assert len(rows[0]) == 2 and sorted(r[0] for r in rows[1:]) == sorted([convs.a.pk, convs.c.pk])
    status, response = api_as(org.admin).get(
        "/conversations/export.xlsx", {"columns": "id", "status": "answered"}
    )
    assert [r[0] for r in _rows(response)[1:]] == [convs.a.pk]


def test_export_validation_permission_and_authentication(org, convs, api_as):
    from convodesk.accounts.models import Role

    api = api_as(org.admin)
    assert (
        "columns"
        in assert_error(api.get("/conversations/export.xlsx", {"columns": "nope"}), 422)["details"]
    )
    assert (
        "status"
        in assert_error(api.get("/conversations/export.xlsx", {"status": "x"}), 422)["details"]
    )
    assert (
        "colour"
        in assert_error(api.get("/conversations/export.xlsx", {"colour": "x"}), 422)["details"]
    )
    no_export = f.employee(
        "noexport", roles=[Role.objects.create(name="No export", view_conversations=30)]
    )
    assert_error(api_as(no_export).get("/conversations/export.xlsx"), 403, "forbidden")
    assert_error(Api().get("/conversations/export.xlsx"), 401)


def test_a_large_export_runs_in_the_background_for_its_owner_only(org, convs, api_as, settings):
    settings.CONVODESK = {**settings.CONVODESK, "EXPORT_BACKGROUND_ROWS": 1}
    settings.TASKS = {
        "default": {
            **settings.TASKS["default"],
            "BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
        }
    }
    settings.EXPORT_ROOT = settings.VAR_DIR / "test-api-exports"
    api = api_as(org.op1)
    status, body = api.get("/conversations/export.xlsx", {"columns": "id"})
    assert status == 202, body
    status, job = api.get(f"/exports/{body['export_id']}")
    assert status == 200 and job["status"] == "done" and job["ready"] is True and job["total"] == 2
    status, response = api.get(f"/exports/{body['export_id']}/file")
    assert status == 200 and sorted(r[0] for r in _rows(response)[1:]) == sorted(
        [convs.a.pk, convs.c.pk]
    )
    assert_error(api_as(org.op3).get(f"/exports/{body['export_id']}"), 404)
    assert_error(api_as(org.op3).get(f"/exports/{body['export_id']}/file"), 404)
    assert_error(api.get("/exports/not-a-uuid"), 422)


def test_an_integration_token_reads_with_its_role(org, convs):
    integration = f.integration("reader", "Chief executive")
    assert len(ids(Api(token_for(integration)).get("/conversations")[1])) == 3


def test_the_total_under_a_filter_on_rollup_keys_is_exact_past_the_threshold(
    org, convs, api_as, settings
):
    """The API's count is the list's: an administrator's total under a filter the statistics
    rollups hold is their exact sum; other filters past the threshold are estimated."""
    settings.CONVODESK = {**settings.CONVODESK, "COUNT_THRESHOLD": 1}
    api = api_as(org.admin)
    status, body = api.get(f"/conversations?responsible={org.op1.pk},{org.op3.pk}")
    assert status == 200 and (body["count"], body["count_exact"]) == (2, True)
    status, body = api.get("/conversations?client_rating=none")
    assert status == 200 and body["count_exact"] is False
