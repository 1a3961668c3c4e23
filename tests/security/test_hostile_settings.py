"""The settings screens take the hostile corpus in every search and filter box without a 5xx
(second adversarial pass: a NUL in a search was a 500 on PostgreSQL), and escape it."""

from urllib.parse import quote

import pytest
from django.test import Client

from tests import factories as f

from .hostile import HOSTILE_DIGITS, HOSTILE_TEXTS

SEARCHES = [
    ("/settings/employees/", "q"),
    ("/settings/employees/", "page"),
    ("/settings/lines/members/search/", "q"),
    ("/settings/quick-replies/", "q"),
    ("/settings/quick-replies/", "kind"),
    ("/settings/audit/", "object"),
    ("/settings/audit/", "page"),
    ("/settings/api-tokens/", "page"),
    ("/settings/connections/new/api/", "line"),
]


@pytest.mark.django_db
def test_every_settings_search_takes_the_hostile_corpus(org):
    client = Client()
    client.force_login(org.admin)
    failures = []
    for url, param in SEARCHES:
        for name, text in [*HOSTILE_TEXTS, *HOSTILE_DIGITS]:
            response = client.get(
                f"{url}?{param}={quote(text.encode('utf-8', 'surrogatepass'), safe='')}"
            )
            if response.status_code >= 500:
                failures.append((url, param, name, response.status_code))
            elif "<script>alert" in response.content.decode(errors="replace"):
                failures.append((url, param, name, "unescaped"))
    assert not failures, failures


@pytest.mark.django_db
def test_the_settings_urls_the_searches_use_exist(org):
    client = Client()
    client.force_login(org.admin)
    for url, _param in SEARCHES:
        assert client.get(url).status_code == 200, url
    assert f.line("Another").pk  # the searches above ran against a populated organisation
