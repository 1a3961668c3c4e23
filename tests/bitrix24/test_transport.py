"""The seed product's transport, as its official client and hand-written scripts use it:
method names in any case, JSON, PHP-bracket form and query-string parameters, the full time
object on every answer, its error codes and statuses, 50-row pages, batch, no redirect."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

import pytest

from convodesk.bitrix24.models import WebhookCode
from convodesk.conversations import services
from tests import factories as f

TIME_KEYS = {
    "start",
    "finish",
    "duration",
    "processing",
    "date_start",
    "date_finish",
    "operating_reset_at",
    "operating",
}


def _check_time(time):
    assert set(time) == TIME_KEYS
    for key in ("start", "finish", "duration", "processing", "operating"):
        assert isinstance(time[key], int | float)
    assert time["finish"] >= time["start"]
    for key in ("date_start", "date_finish"):
        parsed = dt.datetime.fromisoformat(time[key])
        assert parsed.utcoffset() is not None  # "2024-06-01T10:00:00+03:00"
    assert isinstance(time["operating_reset_at"], int)


def test_every_answer_carries_the_result_and_the_full_time_object(desk):
    rest = desk.rest(desk.admin)
    body = rest.call("server.time")
    assert dt.datetime.fromisoformat(body["result"]).utcoffset() is not None
    _check_time(body["time"])
    body = rest.call("user.current")
    assert body["result"]["ID"] == str(desk.admin.pk)
    _check_time(body["time"])


@pytest.mark.parametrize("name", ["crm.lead.List", "CRM.LEAD.LIST", "crm.lead.list"])
def test_method_names_are_read_in_any_case(desk, name):
    body = desk.rest(desk.admin).call(name)
    assert body["result"] == [] and body["total"] == 0


def test_php_bracket_form_bodies_and_query_strings_are_read(desk):
    rest = desk.rest(desk.admin)
    form = urlencode(
        {
            "fields[TITLE]": "Form lead",
            "fields[NAME]": "Ann",
            "fields[PHONE][0][VALUE]": "+34 600 111 222",
            "fields[PHONE][0][VALUE_TYPE]": "WORK",
        }
    )
    response = rest.http.post(
        rest.url("crm.lead.add"), form, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200, response.json()
    lead_id = response.json()["result"]
    got = rest.http.get(rest.url("crm.lead.get") + f"?id={lead_id}").json()["result"]
    assert got["TITLE"] == "Form lead" and got["NAME"] == "Ann"
    assert got["PHONE"][0]["VALUE"] == "+34 600 111 222"
    listed = rest.http.get(
        rest.url("crm.lead.list") + "?select[]=ID&select[]=TITLE&filter[%3DID]=" + str(lead_id)
    ).json()
    assert listed["result"] == [{"ID": str(lead_id), "TITLE": "Form lead"}]


def test_a_wrong_or_revoked_code_answers_as_the_seed_product(desk):
    rest = desk.rest(desk.op1)
    wrong = rest.http.post(f"/rest/{desk.op1.pk}/nope/profile.json")
    assert wrong.status_code == 401 and wrong.json()["error"] == "INVALID_CREDENTIALS"
    other_user = rest.http.post(f"/rest/{desk.op2.pk}/{rest.code}/profile.json")
    assert other_user.status_code == 401 and other_user.json()["error"] == "INVALID_CREDENTIALS"
    no_user = rest.http.post(f"/rest/x/{rest.code}/profile.json")
    assert no_user.status_code == 401 and no_user.json()["error"] == "NO_AUTH_FOUND"
    assert rest.post("profile").status_code == 200
    WebhookCode.objects.filter(user=desk.op1).update(revoked_at=dt.datetime.now(dt.UTC))
    revoked = rest.post("profile")
    assert revoked.status_code == 401 and revoked.json()["error"] == "INVALID_CREDENTIALS"
    desk.op1.is_active = False


def test_unknown_methods_and_paths_never_redirect(desk):
    rest = desk.rest(desk.admin)
    missing = rest.post("no.such.method")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": "ERROR_METHOD_NOT_FOUND",
        "error_description": "Method not found!",
    }
    for path in (
        f"/rest/{desk.admin.pk}/{rest.code}/profile",  # no .json
        f"/rest/{desk.admin.pk}/{rest.code}/profile.json/",  # a trailing slash
    ):
        response = rest.http.post(path)
        assert response.status_code == 200, path
    for path in ("/rest/", "/rest/1", f"/rest/{desk.admin.pk}/{rest.code}/a/b/c.json"):
        response = rest.http.post(path)
        assert response.status_code in (401, 404) and "error" in response.json(), path


def test_errors_come_with_the_seed_products_codes_and_statuses(desk):
    rest = desk.rest(desk.op1)
    missing = rest.post("crm.lead.get", {"id": 999999})
    assert missing.status_code == 400 and missing.json()["error"] == "NOT_FOUND"
    bad = rest.post("crm.lead.list", {"filter": {"NO_SUCH_FIELD": 1}})
    assert bad.status_code == 400 and bad.json()["error"] == "INVALID_ARG_VALUE"
    denied = rest.post("imconnector.register", {"ID": "x", "NAME": "X"})
    assert denied.status_code == 403 and denied.json()["error"] == "ACCESS_DENIED"
    junk = rest.http.post(rest.url("profile"), "{not json", content_type="application/json")
    assert junk.status_code == 400 and junk.json()["error"] == "INVALID_REQUEST"


def test_the_rate_limit_is_a_503_query_limit_exceeded(desk, settings):
    settings.BITRIX24_RATE_LIMIT = (3, 0.001)  # a bucket of 3 that hardly drains
    rest = desk.rest(desk.admin)
    statuses = [rest.post("server.time").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 503]
    body = rest.post("server.time").json()
    assert body == {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}
    other = desk.rest(desk.op1)  # each code has its own bucket
    assert other.post("server.time").status_code == 200


def _sessions(desk, n):
    for i in range(n):
        f.client_message(desk.conn, client=f"page-{i}", text=f"hello {i}")


def test_fifty_row_pages_by_start_with_next_and_total(desk):
    _sessions(desk, 53)
    rest = desk.rest(desk.chief)
    query = {"configId": desk.line.pk, "order": "dateCreate", "orderDirection": "asc"}
    first = rest.call("imopenlines.v2.Session.list", query)
    assert len(first["result"]["sessions"]) == 50
    assert (first["total"], first["next"]) == (53, 50)
    second = rest.call("imopenlines.v2.Session.list", {**query, "start": 50})
    assert len(second["result"]["sessions"]) == 3 and "next" not in second
    assert second["total"] == 53
    past = rest.call("imopenlines.v2.Session.list", {"configId": desk.line.pk, "start": 500})
    assert past["result"]["sessions"] == [] and past["total"] == 53 and "next" not in past
    fast = rest.call("imopenlines.v2.Session.list", {"configId": desk.line.pk, "start": -1})
    assert len(fast["result"]["sessions"]) == 50 and "total" not in fast and "next" not in fast
    negative = rest.post("imopenlines.v2.Session.list", {"start": -5})
    assert negative.status_code == 400 and negative.json()["error"] == "INVALID_ARG_VALUE"
    ids = [s["id"] for s in first["result"]["sessions"] + second["result"]["sessions"]]
    assert len(set(ids)) == 53


def test_batch_has_five_sections_references_and_halt(desk):
    rest = desk.rest(desk.admin)
    lead = rest.call(
        "crm.lead.add", {"fields": {"TITLE": "Batch lead", "PHONE": [{"VALUE": "+34600000001"}]}}
    )["result"]
    body = rest.call(
        "batch",
        {
            "halt": 0,
            "cmd": {
                "found": "crm.duplicate.findbycomm?type=PHONE&values[0]=%2B34600000001",
                "lead": "crm.lead.Get?id=$result[found][LEAD][0]",
                "missing": "crm.lead.get?id=999999",
                "nothing": "no.such.method",
            },
        },
    )
    result = body["result"]
    assert set(result) == {"result", "result_error", "result_total", "result_next", "result_time"}
    assert result["result"]["found"] == {"LEAD": [lead]}
    assert result["result"]["lead"]["TITLE"] == "Batch lead"
    assert result["result_error"]["missing"]["error"] == "NOT_FOUND"
    assert result["result_error"]["nothing"]["error"] == "ERROR_METHOD_NOT_FOUND"
    assert set(result["result_time"]) == {"found", "lead", "missing", "nothing"}
    for time in result["result_time"].values():
        _check_time(time)
    halted = rest.call("batch", {"halt": 1, "cmd": ["crm.lead.get?id=999999", "server.time?"]})[
        "result"
    ]
    assert halted["result"] == [] and list(halted["result_error"]) == ["0"]
    too_many = rest.post("batch", {"cmd": {str(i): "server.time" for i in range(51)}})
    assert too_many.status_code == 400


def test_a_hidden_conversation_answers_as_one_that_does_not_exist(desk):
    received = f.client_message(desk.conn, client="secret", text="hidden")
    conv_id = received.conversation.pk
    services.take(conv_id, f.act(desk.op2))
    rest = desk.rest(desk.op1)  # Manager: sees only their own
    for method in (
        "imopenlines.operator.answer",
        "imopenlines.operator.finish",
        "imopenlines.session.history.get",
        "imopenlines.operator.transfer",
    ):
        hidden = rest.post(method, {"CHAT_ID": conv_id, "TRANSFER_ID": desk.op1.pk})
        missing = rest.post(method, {"CHAT_ID": 987654321, "TRANSFER_ID": desk.op1.pk})
        assert hidden.status_code == missing.status_code == 400, method
        assert hidden.json() == missing.json(), method
        assert hidden.json()["error"] == "CHAT_ID"
    hidden = rest.post("imopenlines.dialog.get", {"CHAT_ID": conv_id})
    missing = rest.post("imopenlines.dialog.get", {"CHAT_ID": 987654321})
    assert hidden.status_code == missing.status_code == 403 and hidden.json() == missing.json()
    hidden = rest.post("im.message.add", {"DIALOG_ID": f"chat{conv_id}", "MESSAGE": "x"})
    missing = rest.post("im.message.add", {"DIALOG_ID": "chat987654321", "MESSAGE": "x"})
    assert hidden.status_code == missing.status_code and hidden.json() == missing.json()
    listed = rest.call("imopenlines.v2.Session.list")
    assert conv_id not in [s["id"] for s in listed["result"]["sessions"]]


def test_a_hidden_crm_record_answers_as_one_that_does_not_exist(desk):
    """A Manager sees their own CRM records: another employee's lead is absent from every method,
    with the same answer as a lead that was never made (its existence is not revealed)."""
    theirs = desk.rest(desk.op2).call(
        "crm.lead.add",
        {"fields": {"TITLE": "Op2's lead", "PHONE": [{"VALUE": "+34 600 999 111"}]}},
    )["result"]
    rest = desk.rest(desk.op1)
    hidden = rest.post("crm.lead.get", {"id": theirs})
    missing = rest.post("crm.lead.get", {"id": 987654321})
    assert hidden.status_code == missing.status_code == 400
    assert hidden.json()["error"] == missing.json()["error"] == "NOT_FOUND"
    assert rest.call("crm.lead.list", {"filter": {"ID": theirs}})["result"] == []
    update = rest.post("crm.lead.update", {"id": theirs, "fields": {"TITLE": "Mine now"}})
    assert update.status_code == 400 and update.json()["error"] == "NOT_FOUND"
    found = rest.call("crm.duplicate.findbycomm", {"type": "PHONE", "values": ["+34600999111"]})
    assert found["result"] == []
    # The one who owns it finds it by the same number.
    owner = desk.rest(desk.op2).call(
        "crm.duplicate.findbycomm", {"type": "PHONE", "values": ["+34600999111"]}
    )
    assert owner["result"] == {"LEAD": [theirs]}
