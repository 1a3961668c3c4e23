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
