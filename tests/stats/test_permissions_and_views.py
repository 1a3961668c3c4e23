"""Who sees which statistics, the page, its exports, the API and the rebuild command."""

import datetime as dt
import io

import openpyxl
import pytest
from django.core.management import call_command

from convodesk.accounts.models import Role
from convodesk.api.models import ApiToken
from convodesk.conversations.models import Conversation
from convodesk.stats import aggregates
from convodesk.stats.models import Participation, Rollup, RollupBucket

from .. import factories as f
from .builders import BASE, random_history

NOW = BASE + dt.timedelta(days=8)
URL = "/contact-center/statistics/"


def names(rep):
    return {e["name"] for e in rep["employees"]}


@pytest.fixture
def history(org):
    random_history(org, 21, conversations=50)
    return org


def _report(user, params=None):
    return aggregates.compute(aggregates.build_scope(user, params or {}, now=NOW))


def test_level_all_counts_every_conversation_and_lists_every_employee(history):
    rep = _report(history.admin)
    assert rep["kpis"]["conversations"] == Conversation.objects.count()
    assert rep["source"] == "rollups"
    assert names(rep) >= {"Op1", "Op2", "Op3"}


def test_level_department_covers_the_department_tree_only(history):
    org = history
    rep = _report(org.supervisor)
    visible = Conversation.objects.visible_to(org.supervisor, "stats")
    assert rep["kpis"]["conversations"] == visible.count() < Conversation.objects.count()
    assert rep["source"] == "rollups"  # sources.SplitSource (issue 23 item 1)
    assert "Op3" not in names(rep) and names(rep) <= {"Op1", "Op2", "Supervisor"}


def test_level_own_covers_only_the_employees_own_conversations(history):
    org = history
    rep = _report(org.op3)
    assert rep["kpis"]["conversations"] == Conversation.objects.visible_to(org.op3, "stats").count()
    assert names(rep) <= {"Op3"}
    line_total = sum(r["conversations"] for r in rep["lines"])
    assert line_total == rep["kpis"]["conversations"]


def test_level_none_is_refused_on_the_page_the_export_and_the_api(org, client):
    blind = Role.objects.create(name="No statistics", view_conversations=10, view_statistics=0)
    user = f.employee("blind", roles=[blind])
    client.force_login(user)
    assert client.get(URL).status_code == 403
    assert client.get(URL + "export/lines.xlsx").status_code == 403
    token = ApiToken.issue(user, "test")[1]
    response = client.get("/api/v1/stats", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"


def test_the_page_shows_the_filtered_total_and_links_back_to_the_list(history, client):
    org = history
    client.force_login(org.admin)
    query = {"line": str(org.line.pk), "started_from": "2026-10-05", "started_to": "2026-10-08"}
    response = client.get(URL, query)
    assert response.status_code == 200
    expected = Conversation.objects.filter(
        line=org.line, started_at__gte=BASE, started_at__lt=BASE + dt.timedelta(days=4)
    ).count()
    assert f'data-testid="total">{expected}<' in response.content.decode()
    assert f"/contact-center/conversations/?line={org.line.pk}" in response.content.decode()


def test_a_malformed_filter_is_a_form_error_not_a_500(org, client):
    client.force_login(org.admin)
    response = client.get(URL, {"started_from": "yesterday", "sl": "7"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "started_from" in body and "sl" in body


@pytest.mark.parametrize(
    "table", ["lines", "channels", "employees", "timeline", "ratings", "metrics", "heatmap"]
)
def test_every_breakdown_table_exports_to_xlsx(history, client, table):
    client.force_login(history.admin)
    response = client.get(
        f"{URL}export/{table}.xlsx", {"started_from": "2026-10-05", "started_to": "2026-10-12"}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) > 1 and all(h for h in rows[0])
    assert sheet.freeze_panes == "A2"
    if table == "employees":
        assert {r[0] for r in rows[1:]} >= {"Op1", "Op2"}
        taken = rows[0].index("Taken")
        assert all(isinstance(r[taken], int) for r in rows[1:])


def test_an_unknown_export_table_is_not_found(org, client):
    client.force_login(org.admin)
    assert client.get(URL + "export/secrets.xlsx").status_code == 404


def test_the_api_returns_the_same_kpis_and_refuses_unknown_parameters(history, client):
    org = history
    token = ApiToken.issue(org.supervisor, "test")[1]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    response = client.get("/api/v1/stats", {"channel": "api,email"}, **auth)
    assert response.status_code == 200, response.content
    body = response.json()
    expected = Conversation.objects.visible_to(org.supervisor, "stats").filter(
        channel__in=["api", "email"]
    )
    assert body["kpis"]["conversations"] == expected.count()
    assert {"metrics", "timeline", "lines", "channels", "employees", "heatmap"} <= set(body)
    bad = client.get("/api/v1/stats", {"colour": "red", "sl": "5"}, **auth)
    assert bad.status_code == 422 and "colour" in bad.json()["error"]["details"]
    bad = client.get("/api/v1/stats", {"sl": "5"}, **auth)
    assert bad.status_code == 422 and "sl" in bad.json()["error"]["details"]
    assert client.get("/api/v1/stats").status_code == 401


def test_rebuild_rollups_command_restores_rollups_for_bulk_loaded_conversations(history):
    before = _report(history.admin)
    for model in (Rollup, RollupBucket, Participation):
        model.objects.all().delete()
    call_command("rebuild_rollups", "--start", "2026-10-01", "--end", "2026-11-01")
    assert _report(history.admin) == before
