"""Whatever a script sends, /rest/ answers in the seed product's shape and never a 500: every
method fed the hostile corpus, wrong types, huge numbers and deep nesting, in JSON and forms."""

from __future__ import annotations

import json

import pytest

from convodesk.bitrix24 import registry
from tests import factories as f
from tests.security.hostile import HOSTILE_TEXTS

KEYS = [
    "CHAT_ID",
    "SESSION_ID",
    "DIALOG_ID",
    "USER_CODE",
    "TRANSFER_ID",
    "USER_ID",
    "QUEUE_ID",
    "MESSAGE",
    "CONFIG_ID",
    "WITH_QUEUE",
    "PARAMS",
    "CONNECTOR",
    "LINE",
    "ACTIVE",
    "MESSAGES",
    "ID",
    "NAME",
    "PLACEMENT_HANDLER",
    "id",
    "fields",
    "select",
    "filter",
    "order",
    "start",
    "type",
    "values",
    "entity_type",
    "configId",
    "operatorId",
    "status",
    "source",
    "dateCreateFrom",
    "orderDirection",
    "offset",
    "limit",
    "cmd",
    "halt",
]
NASTY = [
    "x\x00y",
    "\ud800",
    "٣",
    {"a": {"b": ["\x00"]}},
    [None, 1.5, True],
    10**30,
    -(10**30),
    1e308,
    "9" * 40,
    "2024-13-45T99:99:99",
    {">ID": "\x00", "%TITLE": [], "PHONE": {"x": 1}, "DATE_CREATE": "2024-02-30"},
]


def _methods():
    registry.find("x")
    return sorted(registry.METHODS) + ["batch"]


@pytest.fixture
def hostile_desk(desk, settings):
    settings.BITRIX24_RATE_LIMIT = (10**9, 10**9)  # thousands of calls: no 503 in the way
    f.client_message(desk.conn, client="h1", text="Hello", phone="+34 655 000 111")
    return desk


def test_every_method_refuses_nasty_values_without_a_500(hostile_desk):
    rest = hostile_desk.rest(hostile_desk.admin)
    failures = []
    for method in _methods():
        for value in NASTY:
            for params in ({k: value for k in KEYS}, *({k: value} for k in KEYS[:8])):
                response = rest.post(method, params)
                body = response.json()
                if response.status_code >= 500 or not ("result" in body or "error" in body):
                    failures.append((method, repr(value)[:40], response.status_code, body))
    assert not failures, failures[:10]


# A form carries UTF-8 bytes: a lone surrogate cannot be sent that way (JSON can: see above).
FORM_TEXTS = [(n, t) for n, t in HOSTILE_TEXTS[:18] if n != "lone_surrogate"]


@pytest.mark.parametrize("name,text", FORM_TEXTS)
def test_hostile_texts_in_forms_and_queries_are_stored_clean_or_refused(hostile_desk, name, text):
    from urllib.parse import urlencode

    rest = hostile_desk.rest(hostile_desk.admin)
    form = urlencode({"fields[TITLE]": f"T {text}", "fields[NAME]": text, "fields[COMMENTS]": text})
    response = rest.http.post(
        rest.url("crm.lead.add"), form, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code in (200, 400), response.content
    if response.status_code == 200:
        lead = rest.call("crm.lead.get", {"id": response.json()["result"]})["result"]
        assert "\x00" not in lead["TITLE"] + lead["NAME"] + lead["COMMENTS"]
    query = rest.http.get(rest.url("crm.lead.list") + "?" + urlencode({"filter[%TITLE]": text}))
    assert query.status_code in (200, 400)


def test_bodies_that_are_not_json_objects_or_utf8_are_refused(hostile_desk):
    rest = hostile_desk.rest(hostile_desk.admin)
    for body, content_type in (
        ("[1, 2]", "application/json"),
        ('"text"', "application/json"),
        (b"\xff\xfe\x00", "application/x-www-form-urlencoded"),
        (json.dumps({"a": 1})[:-1], "application/json"),
    ):
        response = rest.http.post(rest.url("profile"), body, content_type=content_type)
        assert response.status_code == 400 and response.json()["error"] == "INVALID_REQUEST"
    deep = "filter" + "[a]" * 40 + "=1"
    response = rest.http.post(
        rest.url("crm.lead.list"), deep, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
