"""One way to show dates and numbers per language and time zone (issue 22, item 1)."""

import datetime as dt
import zoneinfo

import pytest
from django.http import QueryDict
from django.test import RequestFactory
from django.utils import timezone, translation
from django.views.defaults import server_error

from convodesk import display
from convodesk.conversations.columns import COLUMNS
from convodesk.conversations.filters import ConversationFilter
from convodesk.conversations.views.params import normalize
from convodesk.conversations.views.tabs import Tab
from convodesk.stats import charts
from convodesk.stats.aggregates import _label

MOMENT = dt.datetime(2026, 12, 4, 17, 13, tzinfo=dt.UTC)
MADRID = zoneinfo.ZoneInfo("Europe/Madrid")


@pytest.mark.parametrize(
    ("language", "when", "day", "number"),
    [
        ("en", "2026-12-04 18:13", "2026-12-04", "1,313"),
        ("es", "04/12/2026 18:13", "04/12/2026", "1\xa0313"),
    ],
)
def test_each_language_has_one_date_and_number_form_in_the_employees_time_zone(
    language, when, day, number
):
    with translation.override(language), timezone.override(MADRID):
        assert display.when(MOMENT) == when
        assert display.day(MOMENT) == day
        assert display.number(1313) == number
        # the grid cell, the tab count and the toolbar count say the same
        assert COLUMNS["started_at"].render_html(_started(MOMENT)) == when
        assert Tab(key="all", label="All", params={}, count=1313).count_label == number


def _started(moment):
    class Row:
        started_at = moment

    return Row()


def test_decimals_and_chart_ticks_use_the_languages_decimal_mark():
    with translation.override("es"):
        assert display.number(12.5, 1) == "12,5"
        assert charts._fmt(1500) == "1,5k"
    with translation.override("en"):
        assert display.number(12.5, 1) == "12.5"
        assert charts._fmt(1500) == "1.5k"


def test_chart_axis_labels_read_like_every_other_date():
    moment = dt.datetime(2026, 11, 5, 14, 0, tzinfo=MADRID)
    with translation.override("es"):
        assert _label(moment, "day") == "05/11/2026"
        assert _label(moment, "hour") == "05/11 14:00"
        assert _label(moment, "month") == "11/2026"
    with translation.override("en"):
        assert _label(moment, "day") == "2026-11-05"
        assert _label(moment, "month") == "2026-11"


def test_a_date_field_reads_the_languages_form_and_shows_it_back():
    with translation.override("es"):
        assert display.parse_day("05/11/2026") == dt.date(2026, 11, 5)
        assert display.day_input("2026-11-05") == "05/11/2026"
        assert display.day_placeholder() == "dd/mm/aaaa"
    with translation.override("en"):
        # a link made by a Spanish colleague still opens
        assert display.parse_day("05/11/2026") == dt.date(2026, 11, 5)
        assert display.day_input("05/11/2026") == "2026-11-05"
        assert display.parse_day("11/05/2026x") is None


def test_the_screens_hand_a_date_as_the_field_shows_it_to_the_filter_in_iso():
    query = QueryDict(mutable=True)
    query.update(
        {"started_from": "05/11/2026", "started_to": "2026-11-06", "closed_to": "31/02/2026"}
    )
    params = normalize(query, dt.date(2026, 12, 4))
    assert params["started_from"] == "2026-11-05" and params["started_to"] == "2026-11-06"
    flt = ConversationFilter(params, tz=MADRID)
    assert flt.cleaned["started_from"] == dt.datetime(2026, 11, 5, tzinfo=MADRID)
    assert "closed_to" in flt.errors  # not a date in any form: refused, naming the field
    # The API's grammar stays ISO (SPEC): the filter itself refuses the screen's form.
    assert "started_from" in ConversationFilter({"started_from": "05/11/2026"}, tz=MADRID).errors


@pytest.mark.django_db
def test_crm_lists_and_the_bulk_page_use_the_same_form(org, client):
    from convodesk.crm.models import Lead

    lead = Lead.objects.create(title="Acme", responsible=org.admin)
    Lead.objects.filter(pk=lead.pk).update(created_at=MOMENT)
    org.admin.language, org.admin.time_zone = "es", "Europe/Madrid"
    org.admin.save()
    client.force_login(org.admin)
    # (override: the middleware's Spanish must not stay active in this thread for later tests)
    with translation.override("en"):
        html = client.get("/crm/leads/").content.decode()
    assert "04/12/2026 18:13" in html


def test_the_500_page_is_branded_and_needs_no_request_context():
    response = server_error(RequestFactory().get("/"))
    html = response.content.decode()
    assert response.status_code == 500
    assert 'class="error-code"' in html and "favicon.svg" in html
    assert 'href="/contact-center/conversations/"' in html


@pytest.mark.django_db
def test_a_missing_page_and_a_refused_one_are_branded(org, client):
    client.force_login(org.op1)
    missing = client.get("/contact-center/nothing-here/")
    assert missing.status_code == 404 and 'class="error-code"' in missing.content.decode()
    assert 'class="topbar"' in missing.content.decode()
