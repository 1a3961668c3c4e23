"""Issue 15, item 3 over the API: /api/v1/crm obeys the same CRM rule as the cards, for employee
and integration tokens alike (no bypass). Hidden = 404 exactly like missing; visible but not
editable = 403; lists and search leave hidden records out. The world is tests/crm/conftest.py's."""

from __future__ import annotations

import pytest

from convodesk.crm.models import Company, Contact, Deal
from tests.api.conftest import Api, token_for

from .. import factories as f
from .test_scope import MISSING, grant


def api(user) -> Api:
    return Api(token_for(user))


def listed(client: Api, kind: str, **params) -> set[int]:
    status, page = client.get(f"/crm/{kind}", params)
    assert status == 200, page
    return {item["id"] for item in page["items"]}


@pytest.mark.parametrize("kind", ["contacts", "leads", "activities"])
def test_a_hidden_record_answers_exactly_like_a_missing_one(world, kind):
    hidden = {"contacts": world.sven, "leads": world.lead, "activities": world.a_theirs}[kind]
    op1 = api(world.org.op1)
    assert op1.get(f"/crm/{kind}/{hidden.pk}") == op1.get(f"/crm/{kind}/{MISSING}")
    assert op1.get(f"/crm/{kind}/{hidden.pk}")[0] == 404
    change = {"comment": "intruder"} if kind != "activities" else {"description": "intruder"}
    assert op1.patch(f"/crm/{kind}/{hidden.pk}", change) == op1.patch(
        f"/crm/{kind}/{MISSING}", change
    )
    assert op1.patch(f"/crm/{kind}/{hidden.pk}", change)[0] == 404
    hidden.refresh_from_db()
    assert "intruder" not in (getattr(hidden, "comment", "") + getattr(hidden, "description", ""))


def test_lists_and_search_leave_hidden_records_out(world):
    op1 = api(world.org.op1)
    assert listed(op1, "contacts") == {world.ana.pk, world.olga.pk}
    assert listed(op1, "contacts", q="sven") == set()
    assert listed(op1, "contacts", q=f"#{world.sven.pk}") == set()
    assert listed(op1, "leads") == set()
    assert listed(op1, "activities") == {world.a_mine.pk}
    op3 = api(world.org.op3)
    assert listed(op3, "leads") == {world.lead.pk}


def test_a_record_visible_but_not_editable_answers_403_to_a_change(world):
    grant(world.org.op1, view_crm=30)
    op1 = api(world.org.op1)
    status, record = op1.get(f"/crm/contacts/{world.sven.pk}")
    assert status == 200 and record["name"] == "Sven Support-contact"
    status, error = op1.patch(f"/crm/contacts/{world.sven.pk}", {"name": "Changed"})
    assert status == 403 and error["error"]["code"] == "forbidden"
    world.sven.refresh_from_db()
    assert world.sven.name == "Sven Support-contact"
    status, record = op1.patch(f"/crm/contacts/{world.olga.pk}", {"comment": "mine"})
    assert status == 200 and record["comment"] == "mine"


def test_a_hidden_record_cannot_be_chosen_as_a_link(world):
    hidden_co = Company.objects.create(title="Hidden Holding", responsible=world.org.op3)
    op1 = api(world.org.op1)
    refused = op1.patch(f"/crm/contacts/{world.olga.pk}", {"company_id": hidden_co.pk})
    missing = op1.patch(f"/crm/contacts/{world.olga.pk}", {"company_id": MISSING})
    assert refused[0] == missing[0] == 422
    assert refused[1]["error"]["details"].keys() == missing[1]["error"]["details"].keys()
    world.olga.refresh_from_db()
    assert world.olga.company is None
    # A record linked to a hidden one is still changed without touching that link.
    deal = Deal.objects.create(title="Own deal", responsible=world.org.op1, company=hidden_co)
    status, record = op1.patch(f"/crm/deals/{deal.pk}", {"stage": "won"})
    assert status == 200 and record["stage"] == "won" and record["company_id"] == hidden_co.pk


def test_an_integration_token_goes_through_the_same_rule(world):
    limited = f.integration("crm-limited", role_name="Manager")
    client = api(limited)
    assert listed(client, "contacts") == set()
    assert client.get(f"/crm/contacts/{world.sven.pk}")[0] == 404
    assert client.patch(f"/crm/contacts/{world.sven.pk}", {"comment": "x"})[0] == 404
    Contact.objects.filter(pk=world.sven.pk).update(responsible=limited)
    assert client.get(f"/crm/contacts/{world.sven.pk}")[0] == 200
    reader = f.integration("crm-reader", role_name="Manager")
    grant(reader, view_crm=30)
    client = api(reader)
    assert listed(client, "contacts") == set(Contact.objects.values_list("pk", flat=True))
    assert client.patch(f"/crm/contacts/{world.ana.pk}", {"comment": "x"})[0] == 403
    full = api(f.integration("crm-full"))  # Chief executive: view and edit all
    assert full.patch(f"/crm/contacts/{world.ana.pk}", {"comment": "synced"})[0] == 200


def test_administrators_set_crm_levels_through_the_api_and_the_role_admin(client, org):
    admin = api(org.admin)
    status, role = admin.post("/roles", {"name": "CRM desk", "levels": {"view_crm": 20}})
    assert status == 201 and (role["levels"]["view_crm"], role["levels"]["edit_crm"]) == (20, 0)
    status, error = admin.patch(f"/roles/{role['id']}", {"levels": {"view_crm": 0}})
    assert status == 422 and "levels.view_crm" in error["error"]["details"]  # own at least
    status, role = admin.patch(f"/roles/{role['id']}", {"levels": {"edit_crm": 10}})
    assert status == 200 and role["levels"]["edit_crm"] == 10
    client.force_login(org.admin)
    html = client.get(f"/admin/accounts/role/{role['id']}/change/").content.decode()
    assert 'name="view_crm"' in html and 'name="edit_crm"' in html
    assert "Edit CRM records" in client.get("/admin/accounts/role/").content.decode()
