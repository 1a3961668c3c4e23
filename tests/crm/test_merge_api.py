"""Issue 20, item 4 over the REST API: POST /api/v1/crm/{contacts|companies}/{id}/merge calls
the same merge service as the Duplicates screen, and POST /api/v1/crm/merges/{id}/undo its
undo, under the CRM rule: a hidden record answers 404 exactly like a missing one, a visible
one the token's user may not edit 403."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from convodesk.conversations import services as conv_services
from convodesk.conversations.models import ConversationCrmLink
from convodesk.crm.models import Activity, Company, Contact, CrmEvent, CrmMerge, Deal
from tests.api.conftest import Api, token_for

from .. import factories as f
from .test_scope import MISSING, grant


def api(user) -> Api:
    return Api(token_for(user))


@pytest.fixture
def twins(org):
    """Two "Ana Martínez" of op1's, the second with a conversation (op1 holds it) and a deal."""
    ana = Contact.objects.create(name="Ana Martínez", responsible=org.op1)
    ana.add_email("ana@acme.example")
    again = Contact.objects.create(name="ana martinez", comment="Fair", responsible=org.op1)
    again.add_email("ana.m@gmail.example")
    conv = f.client_message(org.conn, "tg-ana", "Hello", name="Ana").conversation
    conv_services.take(conv.pk, f.act(org.op1))
    ConversationCrmLink.objects.filter(conversation=conv).delete()
    ConversationCrmLink.objects.create(
        conversation=conv, entity_type="contact", entity_id=again.pk, is_primary=True
    )
    Activity.objects.filter(conversation=conv).update(owner_type="contact", owner_id=again.pk)
    deal = Deal.objects.create(title="Chairs", contact=again, responsible=org.op1)
    return ana, again, conv, deal


def test_a_merge_through_the_api_keeps_everything_and_its_undo_brings_it_back(org, twins):
    ana, again, conv, deal = twins
    op1 = api(org.op1)
    status, done = op1.post(
        f"/crm/contacts/{ana.pk}/merge",
        {"removed_id": again.pk, "fields": {"comment": "removed"}},
    )
    assert status == 200, done
    assert done["removed_id"] == again.pk and done["kept"]["id"] == ana.pk
    assert done["kept"]["comment"] == "Fair" and done["kept"]["name"] == "Ana Martínez"
    assert sorted(done["kept"]["emails"]) == ["ana.m@gmail.example", "ana@acme.example"]
    record = CrmMerge.objects.get()
    assert done["merge_id"] == record.pk
    undo_until = dt.datetime.fromisoformat(done["undo_until"].replace("Z", "+00:00"))
    assert undo_until == record.at + dt.timedelta(days=30)
    assert not Contact.objects.filter(pk=again.pk).exists()
    deal.refresh_from_db()
    assert deal.contact_id == ana.pk
    assert ConversationCrmLink.objects.get(conversation=conv).entity_id == ana.pk
    assert CrmEvent.objects.filter(entity_id=ana.pk, kind="merged").exists()
    # The search finds the merged e-mail on the kept contact.
    status, page = op1.get("/crm/contacts", {"q": "ana.m@gmail"})
    assert [item["id"] for item in page["items"]] == [ana.pk]

    status, restored = op1.post(f"/crm/merges/{record.pk}/undo", {})
    assert status == 200, restored
    assert restored["id"] == again.pk and restored["comment"] == "Fair"
    assert restored["emails"] == ["ana.m@gmail.example"]
    ana.refresh_from_db()
    deal.refresh_from_db()
    assert ana.comment == "" and deal.contact_id == again.pk
    assert ConversationCrmLink.objects.get(conversation=conv).entity_id == again.pk
    # Undone already: the state does not allow it (409), and nothing changes.
    status, error = op1.post(f"/crm/merges/{record.pk}/undo", {})
    assert status == 409 and error["error"]["code"] == "conflict"
    assert Contact.objects.filter(name__iexact="ana martinez").count() == 1


def test_an_undo_after_30_days_is_a_conflict(org, twins):
    ana, again, *_ = twins
    op1 = api(org.op1)
    status, done = op1.post(f"/crm/contacts/{ana.pk}/merge", {"removed_id": again.pk})
    assert status == 200
    CrmMerge.objects.filter(pk=done["merge_id"]).update(at=timezone.now() - dt.timedelta(days=31))
    status, error = op1.post(f"/crm/merges/{done['merge_id']}/undo", {})
    assert status == 409 and "30 days" in error["error"]["message"]
    assert not Contact.objects.filter(pk=again.pk).exists()


def test_companies_merge_through_the_same_operation(org):
    acme = Company.objects.create(title="Acme", responsible=org.op1)
    other = Company.objects.create(title="ACME", website="acme.example", responsible=org.op1)
    worker = Contact.objects.create(name="Worker", company=other, responsible=org.op1)
    op1 = api(org.op1)
    status, done = op1.post(
        f"/crm/companies/{acme.pk}/merge",
        {"removed_id": other.pk, "fields": {"website": "removed"}},
    )
    assert status == 200 and done["kept"]["website"] == "acme.example"
    worker.refresh_from_db()
    assert worker.company_id == acme.pk
    status, restored = op1.post(f"/crm/merges/{done['merge_id']}/undo", {})
    assert status == 200 and restored["id"] == other.pk and restored["type"] == "company"
    worker.refresh_from_db()
    assert worker.company_id == other.pk


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/crm/contacts/{kept}/merge", {"removed_id": "{kept}"}, "removed_id"),
        (
            "/crm/contacts/{kept}/merge",
            {"removed_id": "{other}", "fields": {"x": "kept"}},
            "fields.x",
        ),
        ("/crm/contacts/{kept}/merge", {"removed_id": "{other}", "fields": {"name": "both"}}, None),
        ("/crm/contacts/{kept}/merge", {"removed_id": "7"}, "removed_id"),  # strict: a number
        ("/crm/contacts/{kept}/merge", {}, "removed_id"),
        ("/crm/deals/{kept}/merge", {"removed_id": "{other}"}, "kind"),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_nothing_merges(org, twins, path, body, field):
    ana, again, *_ = twins
    ids = {"{kept}": ana.pk, "{other}": again.pk}
    body = {k: ids.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    status, error = api(org.op1).post(path.format(kept=ana.pk), body)
    assert status == 422, error
    if field:
        assert field in error["error"]["details"], error
    assert Contact.objects.filter(pk=again.pk).exists() and not CrmMerge.objects.exists()


def test_the_scope_matrix_of_merge_and_undo(org, twins):
    """op1 holds both twins; op3 sees neither; op2 holds a third one of its own. Hidden is 404
    exactly like missing; visible but not editable is 403; a removed record with a conversation
    the user may not act on is 403."""
    ana, again, conv, _deal = twins
    theirs = Contact.objects.create(name="Ana Martínez", responsible=org.op2)
    op1, op2, op3 = api(org.op1), api(org.op2), api(org.op3)
    merge_path = f"/crm/contacts/{ana.pk}/merge"

    # Hidden kept record: 404, the same answer as a missing one.
    hidden = op3.post(merge_path, {"removed_id": again.pk})
    missing = op3.post(f"/crm/contacts/{MISSING}/merge", {"removed_id": again.pk})
    assert hidden == missing and hidden[0] == 404
    # Hidden removed record: 404 like a missing one, from the kept record's owner.
    hidden = op1.post(merge_path, {"removed_id": theirs.pk})
    missing = op1.post(merge_path, {"removed_id": MISSING})
    assert hidden == missing and hidden[0] == 404
    # Visible (CRM view all) but not editable (edit own): 403.
    grant(org.op3, view_crm=30)
    status, error = op3.post(merge_path, {"removed_id": again.pk})
    assert status == 403 and error["error"]["code"] == "forbidden"
    # Editable records, but the removed one's conversation is someone else's to act on: 403.
    grant(org.op2, view_crm=30, edit_crm=30)
    status, error = op2.post(merge_path, {"removed_id": again.pk})
    assert status == 403 and "conversations" in error["error"]["message"]
    assert Contact.objects.filter(pk=again.pk).exists() and not CrmMerge.objects.exists()

    # The owner merges; the undo follows the same rule on the kept record.
    status, done = op1.post(merge_path, {"removed_id": again.pk})
    assert status == 200
    undo_path = f"/crm/merges/{done['merge_id']}/undo"
    op4 = api(f.employee("op4-nobody", roles=["Manager"]))
    assert op4.post(undo_path, {}) == op4.post(f"/crm/merges/{MISSING}/undo", {})
    assert op4.post(undo_path, {})[0] == 404
    assert op3.post(undo_path, {})[0] == 403  # sees the kept contact, may not edit it
    assert not Contact.objects.filter(pk=again.pk).exists()
    assert op1.post(undo_path, {})[0] == 200


def test_merges_need_a_token(org, twins):
    ana, again, *_ = twins
    status, error = Api().post(f"/crm/contacts/{ana.pk}/merge", {"removed_id": again.pk})
    assert status == 401 and error["error"]["code"] == "unauthenticated"
