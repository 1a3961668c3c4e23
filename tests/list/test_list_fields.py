"""The grid reads only what its columns show (issue 23: the row fetch against hand-written SQL).

A page loads the fields of its visible columns, the row's own (status, due time, responsible,
client, CRM entries) and the sort field, not the hundred-odd columns of a conversation with its
joined client, open channel and employee. A field a cell reads but the page did not load would
cost one query per row; these tests render every column, sorted every way, on the page and its
live rows, and open each row's menu (`load_row`, which also prints a row again after an action),
with such loading refused.
"""

import re
from unittest import mock

import pytest
from django.db import connection
from django.db.models import Model
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from convodesk.conversations.columns import COLUMNS, DEFAULT_COLUMNS

from .conftest import row_ids

LIST = "/contact-center/conversations/"


def _refuse(instance, *args, **kwargs):
    raise AssertionError(f"{type(instance).__name__} loaded a deferred field: {kwargs or args}")


def _show(user, keys):
    user.column_preferences = {"conversation_list": list(keys)}
    user.save()


def _every_row_path(client, query):
    """The page, its rows again as live rows, and each row's menu; the shown row ids."""
    response = client.get(f"{LIST}?{query}")
    assert response.status_code == 200, query
    ids = row_ids(response)
    assert ids, query
    live = client.get(reverse("conversations:live_rows"), {"ids": ",".join(map(str, ids))})
    assert live.status_code == 200 and row_ids(live), query
    for pk in ids:
        assert client.get(reverse("conversations:row_menu", args=[pk])).status_code == 200
    return ids


@pytest.mark.parametrize("who", ["admin", "supervisor", "op1"])
def test_each_column_alone_renders_from_the_fields_the_page_loaded(varied, client, who):
    user = getattr(varied.org, who)
    client.force_login(user)
    with mock.patch.object(Model, "refresh_from_db", _refuse):
        for key in COLUMNS:
            _show(user, [key])
            _every_row_path(client, "view=all")


def test_every_sort_renders_from_the_fields_the_page_loaded(varied, client):
    """The sort field is loaded too: the next page's cursor is read off the last row."""
    user = varied.org.admin
    client.force_login(user)
    _show(user, ["id"])
    sorts = [f"{sign}{c.key}" for c in COLUMNS.values() if c.sortable for sign in ("", "-")]
    with mock.patch.object(Model, "refresh_from_db", _refuse):
        for sort in sorts:
            _every_row_path(client, f"view=all&sort={sort}")


def test_a_page_reads_the_columns_it_shows_and_not_the_others(varied, client):
    admin = varied.org.admin
    client.force_login(admin)
    _show(admin, DEFAULT_COLUMNS)
    with CaptureQueriesContext(connection) as queries:
        assert row_ids(client.get(f"{LIST}?view=all"))
    rows_sql = [q["sql"] for q in queries.captured_queries if '"id" IN (' in q["sql"]]
    rows_sql = [s for s in rows_sql if re.match(r'SELECT "conversations_conversation"\."id"', s)]
    assert len(rows_sql) == 1
    sql = rows_sql[0]
    for shown in ("agent_response_time", "started_at", "supervisor_rating", "due_at"):
        assert f'"conversations_conversation"."{shown}"' in sql
    for hidden in ("excerpt", "source_url", "reply_time_max_bh", "tag_ids", "updated_at"):
        assert f'"conversations_conversation"."{hidden}"' not in sql
    # the open channel's settings and the employee's password are not read for a name
    assert '"lines_line"."greeting_text"' not in sql and '"accounts_user"."password"' not in sql
