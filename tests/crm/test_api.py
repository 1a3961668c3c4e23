import pytest

from convodesk.accounts.models import Role
from convodesk.api.models import ApiToken
from convodesk.crm.models import Company, Contact, Deal, Lead

from .. import factories as f


@pytest.fixture
def api(client, org):
    """op1's token, with a role that views and edits every CRM record (scope: test_scope.py)."""
    org.op1.roles.add(Role.objects.create(name="CRM clerk", view_crm=30, edit_crm=30))
    _token, plain = ApiToken.issue(org.op1, "test")

    class Api:
        def get(self, path, **params):
            return client.get(f"/api/v1/crm{path}", params, HTTP_AUTHORIZATION=f"Bearer {plain}")

        def patch(self, path, body):
            return client.patch(
                f"/api/v1/crm{path}",
                body,
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {plain}",
            )

    return Api()


def test_records_need_a_token(client, org):
    assert client.get("/api/v1/crm/contacts").status_code == 401


def test_list_and_get_records_of_each_kind(api, org):
    acme = Company.objects.create(title="Acme")
    ana = Contact.objects.create(name="Ana García", company=acme)
    ana.add_phone("+34 600 11 22 33", "ES")
    deal = Deal.objects.create(title="Order", contact=ana, amount="12.50")
    conv = f.client_message(org.conn, "c9", name="Luis", email="luis@x.es").conversation
    lead = Lead.objects.get()
    body = api.get("/contacts", q="600112233").json()
    assert [item["id"] for item in body["items"]] == [ana.pk] and body["next_before_id"] is None
    assert (
        body["items"][0]["phones"] == ["+34 600 11 22 33"]
        and body["items"][0]["company_id"] == acme.pk
    )
    assert api.get(f"/deals/{deal.pk}").json()["amount"] == "12.50"
    assert api.get(f"/companies/{acme.pk}").json()["title"] == "Acme"
    lead_out = api.get(f"/leads/{lead.pk}").json()
    assert (lead_out["status"], lead_out["email"], lead_out["source"]) == (
        "new",
        "luis@x.es",
        "open_channel",
    )
    activity = api.get(f"/activities/{conv.crm_activity_id}").json()
    assert activity["conversation_id"] == conv.pk and activity["owner"] == {
        "type": "lead",
        "id": lead.pk,
    }
    assert activity["completed"] is False and activity["direction"] == "incoming"
    assert api.get("/leads", q="luis").json()["items"][0]["id"] == lead.pk


def test_list_pages_by_id(api, org):
    ids = [Contact.objects.create(name=f"C{i}").pk for i in range(5)]
    first = api.get("/contacts", limit=2).json()
    assert [i["id"] for i in first["items"]] == ids[::-1][:2]
    second = api.get("/contacts", limit=2, before_id=first["next_before_id"]).json()
    assert [i["id"] for i in second["items"]] == ids[::-1][2:4]


def test_patch_changes_only_the_given_fields(api, org):
    ana = Contact.objects.create(name="Ana", comment="keep")
    ana.add_email("ana@x.es")
    out = api.patch(
        f"/contacts/{ana.pk}",
        {"name": "Ana G.", "phones": ["0034 600 11 22 33"], "responsible_id": org.op1.pk},
    )
    assert out.status_code == 200, out.content
    ana.refresh_from_db()
    assert (ana.name, ana.comment, ana.responsible) == ("Ana G.", "keep", org.op1)
    assert list(ana.phones.values_list("normalized", flat=True)) == ["+34600112233"]
    assert list(ana.emails.values_list("normalized", flat=True)) == ["ana@x.es"]
    deal = Deal.objects.create(title="D")
    assert api.patch(f"/deals/{deal.pk}", {"stage": "won", "amount": "10"}).json()["stage"] == "won"


@pytest.mark.parametrize(
    "path, body, field",
    [
        ("/contacts/{id}", {"name": ""}, "name"),
        ("/contacts/{id}", {"phones": "not a list"}, "phones"),
        ("/contacts/{id}", {"emails": ["nope"]}, "emails"),
        ("/contacts/{id}", {"id": 5}, "id"),
        ("/contacts/{id}", {"company_id": 999999}, "company_id"),
        ("/contacts/{id}", {"name": {"a": 1}}, "name"),
    ],
)
def test_patch_refuses_bad_input_with_a_422_naming_the_field(api, org, path, body, field):
    ana = Contact.objects.create(name="Ana")
    response = api.patch(path.format(id=ana.pk), body)
    assert response.status_code == 422, response.content
    assert field in response.json()["error"]["details"]


def test_unknown_kinds_and_ids_are_404(api, org):
    assert api.get("/widgets").status_code == 404
    assert api.get("/contacts/12345").status_code == 404
    assert api.get("/contacts/99999999999999999999").status_code in (404, 422)
    assert api.patch("/leads/4", {"title": "x"}).status_code == 404
    assert api.get("/contacts", limit=0).status_code == 422
    assert api.patch("/contacts/1", {"name": "a\x00b"}).status_code in (400, 404, 422)
