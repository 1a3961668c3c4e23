"""Tags and close reasons in the list (column and filter from the URL), the export and the
history (issue 19 item 3)."""

import io

import openpyxl
from django.db import connection
from django.test.utils import CaptureQueriesContext

from convodesk.conversations import export, services
from convodesk.conversations.models import Conversation, Tag
from convodesk.conversations.views.prefs import PREF_KEY
from convodesk.lines.models import CloseReason

from .. import factories as f
from ..export.builders import handled

LIST = "/contact-center/conversations/"


def _tagged(org):
    billing = Tag.objects.create(name="Billing", colour="blue")
    urgent = Tag.objects.create(name="Urgent", colour="red")
    solved = CloseReason.objects.create(line=org.line, name="Solved")
    a = handled(org.conn, "anna", org.op1, start=0, take=10, reply=20)
    b = handled(org.conn, "bert", org.op1, start=100, take=10, reply=20)
    c = handled(org.conn, "carl", org.op1, start=200, take=10, reply=20)
    admin = f.act(org.admin)
    services.change_tags(a.pk, admin, add=[urgent.pk, billing.pk])
    services.change_tags(b.pk, admin, add=[urgent.pk])
    services.close(a.pk, admin, reason=solved.pk)
    return (a, b, c), (billing, urgent), solved


def test_the_list_shows_tags_and_close_reason_and_filters_by_them(org, client):
    (a, b, c), (billing, urgent), solved = _tagged(org)
    org.admin.column_preferences = {PREF_KEY: ["id", "client", "tags", "close_reason"]}
    org.admin.save()
    client.force_login(org.admin)
    page = client.get(LIST, {"tag": urgent.pk}).content.decode()
    assert f'id="row-{a.pk}"' in page and f'id="row-{b.pk}"' in page
    assert f'id="row-{c.pk}"' not in page
    assert (
        '<span class="tag tag-blue">Billing</span> <span class="tag tag-red">Urgent</span>' in page
    )
    assert "Solved" in page
    page = client.get(LIST, {"tag_none": urgent.pk}).content.decode()
    assert f'id="row-{c.pk}"' in page and f'id="row-{a.pk}"' not in page
    page = client.get(LIST, {"close_reason": solved.pk}).content.decode()
    assert f'id="row-{a.pk}"' in page and f'id="row-{b.pk}"' not in page
    assert "Tags: any of" in client.get(LIST, {"tag": urgent.pk}).content.decode()


def test_the_list_reads_tags_for_a_whole_page_in_one_query(org, client):
    (a, b, c), _tags, _solved = _tagged(org)
    for i in range(8):
        conv = handled(org.conn, f"more-{i}", org.op1, start=300 + i, take=10)
        services.change_tags(conv.pk, f.act(org.admin), add=[_tags[i % 2].pk])
    org.admin.column_preferences = {PREF_KEY: ["id", "tags"]}
    org.admin.save()
    client.force_login(org.admin)
    with CaptureQueriesContext(connection) as queries:
        client.get(LIST)
    tag_reads = [q["sql"] for q in queries.captured_queries if "conversations_tag" in q["sql"]]
    # the page's tags in one query (the filter panel's options may read the tag list too)
    assert len([s for s in tag_reads if "conversationtag" in s]) == 1, tag_reads


def test_the_export_writes_tags_and_close_reason_columns(org):
    (a, b, c), _tags, _solved = _tagged(org)
    target = io.BytesIO()
    queryset = Conversation.objects.filter(pk__in=[a.pk, b.pk, c.pk]).order_by("id")
    export.write_xlsx(queryset, ["id", "tags", "close_reason"], None, target)
    target.seek(0)
    sheet = openpyxl.load_workbook(target).active
    header = [cell.value for cell in sheet[1]]
    assert header == ["ID", "Tags", "Close reason"]
    rows = [list(r) for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert rows == [[a.pk, "Billing, Urgent", "Solved"], [b.pk, "Urgent", None], [c.pk, None, None]]


def test_the_history_shows_the_tag_changes_and_the_close_reason(org, client):
    (a, _b, _c), _tags, _solved = _tagged(org)
    client.force_login(org.admin)
    page = client.get(f"/contact-center/conversations/{a.pk}/history/").content.decode()
    assert "Tags changed" in page
    assert "+ Billing, + Urgent" in page
    assert "Close reason: Solved" in page
