"""Malformed input on the HTML and API paths gets a clear 4xx or an empty answer, never a 500."""

import pytest

from tests import factories as f

URLS = [
    "/contact-center/conversations/?per_page=abc&page=-1&after=xyz&before=%00",
    "/contact-center/conversations/?page=99999999999999999999",
    "/contact-center/conversations/?sort=-nope&status=,,&line=1e9&started_from=2026-13-45",
    "/contact-center/conversations/rows/?ids=1,x,99999999999999999999",
    "/contact-center/statistics/?sl=abc&started_from=x&granularity=zzz",
    "/contact-center/statistics/?started_from=0001-01-01&started_to=9999-12-31",
    "/contact-center/statistics/export/nope.xlsx",
    "/crm/leads/?q=%00&before_id=abc",
    "/crm/leads/99999999999999999999/",
    "/contact-center/workspace/?c=abc",
    "/contact-center/workspace/c/99999999/",
    "/contact-center/conversations/999999999/history/",
    "/contact-center/conversations/exports/00000000-0000-0000-0000-000000000000/",
    "/widget/nope.js",
    "/api/v1/conversations?limit=0&cursor=%%%",
    "/api/v1/conversations/99999999999999999999",
]
POSTS = [
    ("/contact-center/conversations/bulk/", {"action": "zzz", "ids": ["x", "1"]}),
    ("/contact-center/conversations/columns/", {"columns": ["\x00", "nope"]}),
    ("/contact-center/conversations/presets/", {"name": "x" * 500, "query": "\x00"}),
    ("/contact-center/workspace/availability/", {"status": "zzz"}),
    ("/contact-center/workspace/c/1/transfer/", {"employee": "abc", "line": "1e9"}),
    ("/account/language/", {"language": "\x00"}),
]


@pytest.mark.parametrize("url", URLS)
def test_malformed_query_strings_never_reach_a_server_error(client, org, url):
    client.force_login(org.admin)
    assert client.get(url).status_code < 500, url


@pytest.mark.parametrize("url,data", POSTS)
def test_malformed_form_posts_never_reach_a_server_error(client, org, url, data):
    f.client_message(org.conn, "c1", "hi")
    client.force_login(org.admin)
    assert client.post(url, data).status_code < 500, url


# Issue 15, item 8: oversized and over-nested bodies, a client nobody has, a doubled sort sign.


def _json_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body["error"]


@pytest.fixture
def admin_api(org):
    from tests.api.conftest import Api, token_for

    return Api(token_for(org.admin))


def test_a_10_mb_body_is_a_413_in_the_json_error_shape(org, admin_api):
    from tests.security.hostile import big_body

    conv = f.client_message(org.conn, "c1", "hi").conversation
    secret = org.conn.rotate_secret()
    org.conn.save()
    for path, headers in (
        ("/api/v1/conversations", admin_api.headers(None)),
        (f"/api/v1/conversations/{conv.pk}/messages", admin_api.headers(None)),
        (f"/api/v1/connectors/{org.conn.pk}/messages", {"HTTP_AUTHORIZATION": f"Bearer {secret}"}),
    ):
        response = admin_api.client.post(
            path, data=big_body(), content_type="application/json", **headers
        )
        _json_error(response, 413, "too_large")
    assert conv.messages.count() == 1  # nothing was written


def test_a_10_mb_form_post_is_a_plain_413_page(client, org):
    client.force_login(org.admin)
    response = client.post(
        "/contact-center/conversations/presets/",
        data=b"name=" + b"x" * (10 * 1024 * 1024),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/plain")


def test_a_100000_deep_json_body_is_a_400_json_error(org, admin_api):
    from tests.security.hostile import deep_json

    conv = f.client_message(org.conn, "c1", "hi").conversation
    for body in (deep_json(), b'{"text": ' + b'{"a": ' * 100_000 + b"1" + b"}" * 100_001):
        response = admin_api.client.post(
            f"/api/v1/conversations/{conv.pk}/messages",
            data=body,
            content_type="application/json",
            **admin_api.headers(None),
        )
        error = _json_error(response, 400, "bad_request")
        assert "deep" in error["message"]
    assert conv.messages.count() == 1


def test_statistics_for_a_client_nobody_has_are_zeros_on_the_page_and_the_api(
    client, org, admin_api
):
    f.client_message(org.conn, "c1", "hi", name="Known client")
    status, report = admin_api.get("/stats", {"client": "no-such-client-anywhere"})
    assert status == 200, report
    assert report["kpis"]["conversations"] == 0 and report["kpis"]["closed"] == 0
    status, report = admin_api.get("/stats", {"client": "Known"})
    assert status == 200 and report["kpis"]["conversations"] == 1
    client.force_login(org.admin)
    response = client.get("/contact-center/statistics/?client=no-such-client-anywhere")
    assert response.status_code == 200
    export = client.get("/contact-center/statistics/export/lines.xlsx?client=no-such-client")
    assert export.status_code == 200


def test_sorting_by_a_doubled_minus_is_a_422_naming_sort(client, org, admin_api):
    f.client_message(org.conn, "c1", "hi")
    for sort in ("--id", "---started_at", "--"):
        status, body = admin_api.get("/conversations", {"sort": sort})
        assert status == 422, body
        assert set(body["error"]["details"]) == {"sort"}, body
    assert admin_api.get("/conversations", {"sort": "-id"})[0] == 200
    client.force_login(org.admin)
    response = client.get("/contact-center/conversations/?sort=--id")
    assert response.status_code == 200
    assert "filter-errors" in response.content.decode()  # the page names the bad sort instead


def test_a_json_string_with_a_lone_surrogate_is_stored_as_a_replacement_character(org, admin_api):
    """`"\\ud800"` is valid JSON syntax for a string no database can store: the API keeps the
    rest of the text and writes U+FFFD in its place (it was a 500 on free-form bodies)."""
    from convodesk.crm.models import Activity

    conv = f.client_message(org.conn, "c1", "hi").conversation
    activity = Activity.objects.get(conversation=conv)
    for method, path, body in (
        ("patch", f"/api/v1/crm/activities/{activity.pk}", b'{"subject": "a \\ud800"}'),
        ("post", f"/api/v1/conversations/{conv.pk}/messages", b'{"text": "a \\ud800 b"}'),
        ("patch", f"/api/v1/employees/{org.op1.pk}", b'{"name": "x\\udfff"}'),
    ):
        call = getattr(admin_api.client, method)
        response = call(path, data=body, content_type="application/json", **admin_api.headers(None))
        assert response.status_code < 300, (path, response.content)
    activity.refresh_from_db()
    org.op1.refresh_from_db()
    assert activity.subject == "a \ufffd"
    assert conv.messages.order_by("id").last().text == "a \ufffd b"
    assert org.op1.display_name == "x\ufffd"


@pytest.mark.django_db
def test_a_widget_key_that_is_not_a_key_is_nobodys_and_never_a_500(client):
    """Third adversarial pass: a NUL in the public key reached the query (500 on PostgreSQL)."""
    for key in ("%00", "a%00b", "%C2%B3", "x" * 65):
        assert client.get(f"/widget/{key}.js").status_code == 404, key
        assert client.get(f"/widget/demo/?key={key}").status_code < 500, key
