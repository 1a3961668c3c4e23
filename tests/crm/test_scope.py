"""Issue 15, item 3: CRM scope. A record is visible when the viewer may see one of its
conversations, is its responsible employee, or their CRM level allows it; hidden records answer
exactly like missing ones on every path, and changing one needs the edit level (403 otherwise).

op1 (Sales) holds `mine`, bound to the contact Ana; op3 (Support) holds `theirs`, bound to a
lead. Olga is op1's own contact, Erik belongs to op2 (Sales East, below Sales), Sven to op3.
Every operator has the default Manager role: view own, edit own.
"""

from __future__ import annotations

import re

import pytest

from convodesk.accounts.access import forget_levels, levels_for
from convodesk.accounts.models import Role
from convodesk.conversations import services
from convodesk.conversations.models import ConversationEvent
from convodesk.crm import actions
from convodesk.crm.models import Activity, Company, Contact, Deal, Lead

from .. import factories as f

MISSING = 987654  # no record has this id


def grant(user, **levels) -> None:
    """Give `user` an extra role with these levels (levels are the highest of the roles)."""
    name = "Scope " + "-".join(f"{k}{v}" for k, v in sorted(levels.items())) + f" {user.pk}"
    user.roles.add(Role.objects.create(name=name, **levels))
    forget_levels(user)


def ids(queryset) -> set[int]:
    return set(queryset.values_list("pk", flat=True))


def body(response) -> str:
    """The page, with what differs on every response masked out: the branded 404 page carries
    the header's forms, with a fresh CSRF token and the requested address to come back to."""
    html = response.content.decode()
    html = re.sub(r'(name="next" value=")[^"]+', r"\1…", html)
    html = re.sub(r'("X-CSRFToken": ")[^"]+', r"\1…", html)
    return re.sub(r'(name="csrfmiddlewaretoken" value=")[^"]+', r"\1…", html)


# The rule ----------------------------------------------------------------------------------


def test_a_new_role_and_the_default_roles_carry_crm_levels(org):
    assert (Role().view_crm, Role().edit_crm) == (10, 0)  # own, none
    defaults = {r.name: (r.view_crm, r.edit_crm) for r in Role.objects.all()}
    assert (
        defaults.items()
        >= {
            "Administrator": (30, 30),
            "Chief executive": (30, 30),
            "Manager": (10, 10),
        }.items()
    )
    levels = levels_for(org.op1)
    assert (levels["view_crm"], levels["edit_crm"]) == (10, 10)
    assert levels_for(org.admin)["edit_crm"] == 30


def test_an_operator_sees_the_records_of_their_conversations_and_those_they_answer_for(world):
    op1 = world.org.op1
    assert ids(Contact.objects.visible_to(op1, "view")) == {world.ana.pk, world.olga.pk}
    assert ids(Contact.objects.visible_to(op1, "edit")) == {world.ana.pk, world.olga.pk}
    assert ids(Lead.objects.visible_to(op1, "view")) == set()
    assert ids(Activity.objects.visible_to(op1, "view")) == {world.a_mine.pk}
    op3 = world.org.op3
    assert ids(Contact.objects.visible_to(op3, "view")) == {world.sven.pk}
    assert ids(Lead.objects.visible_to(op3, "view")) == {world.lead.pk}
    assert ids(Activity.objects.visible_to(op3, "view")) == {world.a_theirs.pk}


def test_the_department_level_adds_the_records_of_the_departments_employees(world):
    op1 = world.org.op1
    grant(op1, view_crm=20)
    assert ids(Contact.objects.visible_to(op1, "view")) == {
        world.ana.pk,
        world.olga.pk,
        world.erik.pk,  # op2 is in Sales East, below op1's Sales
    }
    assert world.erik.pk not in ids(Contact.objects.visible_to(op1, "edit"))  # edit stays own
    grant(op1, edit_crm=20)
    assert world.erik.pk in ids(Contact.objects.visible_to(op1, "edit"))
    assert world.sven.pk not in ids(Contact.objects.visible_to(op1, "edit"))


def test_the_all_level_shows_every_record_and_edit_none_allows_no_change(world):
    op1 = world.org.op1
    grant(op1, view_crm=30)
    assert ids(Contact.objects.visible_to(op1, "view")) == ids(Contact.objects.all())
    assert ids(Lead.objects.visible_to(op1, "view")) == {world.lead.pk}
    reader = f.employee("reader", roles=[])  # no role at all: view own, edit none
    world.org.op1.roles.clear()
    grant(reader, view_crm=30)
    assert ids(Contact.objects.visible_to(reader, "view")) == ids(Contact.objects.all())
    assert not Contact.objects.visible_to(reader, "edit").exists()


def test_the_rule_is_one_query_whatever_the_number_of_records(world, django_assert_num_queries):
    op1 = world.org.op1
    grant(op1, view_crm=20)
    list(Contact.objects.visible_to(op1, "view"))  # levels and department ids are cached
    for i in range(20):
        Contact.objects.create(name=f"More {i}", responsible=world.org.op2)
    with django_assert_num_queries(1):
        assert len(list(Contact.objects.visible_to(op1, "view"))) == 23
    with django_assert_num_queries(1):
        list(Activity.objects.visible_to(op1, "edit"))


# HTML: cards, lists, search ----------------------------------------------------------------


@pytest.mark.parametrize("segment", ["contacts", "leads", "activities"])
def test_a_hidden_record_answers_exactly_like_a_missing_one(client, world, segment):
    hidden = {"contacts": world.sven, "leads": world.lead, "activities": world.a_theirs}[segment]
    client.force_login(world.org.op1)
    for method in ("get", "post"):
        call = getattr(client, method)
        refused = call(f"/crm/{segment}/{hidden.pk}/", {"name": "Intruder", "title": "Intruder"})
        missing = call(f"/crm/{segment}/{MISSING}/", {"name": "Intruder", "title": "Intruder"})
        assert refused.status_code == missing.status_code == 404
        assert body(refused) == body(missing)
        assert hidden.display_title not in body(refused)
    hidden.refresh_from_db()
    assert "Intruder" not in hidden.display_title


def test_the_activity_of_a_conversation_the_operator_may_not_see_is_not_found(client, world):
    """The reported case: op1 opened /crm/activities/<id>/ of a conversation he gets 404 for."""
    client.force_login(world.org.op1)
    assert (
        client.get(f"/contact-center/conversations/{world.theirs.pk}/history/").status_code == 404
    )
    assert client.get(f"/crm/activities/{world.a_theirs.pk}/").status_code == 404
    assert client.get(f"/crm/activities/{world.a_mine.pk}/").status_code == 200


def test_lists_and_search_leave_hidden_records_out(client, world):
    client.force_login(world.org.op1)
    page = client.get("/crm/contacts/")
    assert {r.pk for r in page.context["rows"]} == {world.ana.pk, world.olga.pk}
    assert "Sven" not in body(page) and "Erik" not in body(page)
    for q in ("sven", f"#{world.sven.pk}", str(world.sven.pk)):
        page = client.get("/crm/contacts/", {"q": q})
        assert world.sven not in page.context["rows"] and "Sven" not in body(page), q
    assert list(client.get("/crm/leads/", {"q": "zed"}).context["rows"]) == []
    assert list(client.get("/crm/activities/").context["rows"]) == [world.a_mine]
    # The search of the re-binding page, too.
    page = client.get(f"/crm/conversations/{world.mine.pk}/rebind/", {"q": "contact"})
    found = {r.pk for _kind, _label, r in page.context["found"]}
    assert found == {world.ana.pk, world.olga.pk}


def test_a_record_visible_but_not_editable_is_read_only_and_refuses_a_save(client, world):
    op1 = world.org.op1
    grant(op1, view_crm=30)  # sees every record, edits only its own
    client.force_login(op1)
    page = client.get(f"/crm/contacts/{world.sven.pk}/")
    assert page.status_code == 200 and "Sven Support-contact" in body(page)
    assert not page.context["editable"] and 'id="crm-read-only"' in body(page)
    assert all(field.disabled for field in page.context["form"].fields.values())
    response = client.post(f"/crm/contacts/{world.sven.pk}/", {"name": "Changed"})
    assert response.status_code == 403
    world.sven.refresh_from_db()
    assert world.sven.name == "Sven Support-contact"
    # A lead the user may not edit offers no conversion, and the conversion itself is refused.
    page = client.get(f"/crm/leads/{world.lead.pk}/")
    assert page.status_code == 200 and page.context["convert_form"] is None
    assert client.post(f"/crm/leads/{world.lead.pk}/convert/").status_code == 403
    # Its own record stays editable.
    assert client.get(f"/crm/contacts/{world.olga.pk}/").context["editable"]


def test_dropdowns_offer_only_visible_records_and_keep_a_hidden_choice_unnamed(client, world):
    op1 = world.org.op1
    hidden_co = Company.objects.create(title="Hidden Holding", responsible=world.org.op3)
    own_co = Company.objects.create(title="Own Company", responsible=op1)
    deal = Deal.objects.create(
        title="Own deal", responsible=op1, contact=world.sven, company=hidden_co
    )
    client.force_login(op1)
    page = client.get(f"/crm/contacts/{world.olga.pk}/")
    assert set(page.context["form"].fields["company"].queryset) == {own_co}
    html = body(page)
    assert "Own Company" in html and "Hidden Holding" not in html
    page = client.get(f"/crm/deals/{deal.pk}/")
    html = body(page)
    assert "Hidden Holding" not in html and "Sven" not in html
    assert "(a record you may not see)" in html
    form = page.context["form"]
    assert form.fields["contact"].disabled and form.fields["company"].disabled
    # Saving keeps the hidden links; choosing a hidden record is refused like a missing one.
    data = {
        "title": "Own deal 2",
        "stage": "new",
        "amount": "1",
        "currency": "EUR",
        "responsible": op1.pk,
    }
    assert client.post(f"/crm/deals/{deal.pk}/", data).status_code == 302
    deal.refresh_from_db()
    assert (deal.title, deal.contact, deal.company) == ("Own deal 2", world.sven, hidden_co)
    olga = {"name": "Olga", "responsible": op1.pk}
    refused = client.post(f"/crm/contacts/{world.olga.pk}/", {**olga, "company": hidden_co.pk})
    missing = client.post(f"/crm/contacts/{world.olga.pk}/", {**olga, "company": MISSING})
    assert refused.status_code == missing.status_code == 400
    assert refused.context["form"].errors == missing.context["form"].errors
    world.olga.refresh_from_db()
    assert world.olga.company is None


def test_a_card_names_only_visible_related_records_and_conversations(client, world):
    op1 = world.org.op1
    hidden_co = Company.objects.create(title="Hidden Holding", responsible=world.org.op3)
    world.olga.company = hidden_co
    world.olga.save()
    Deal.objects.create(title="Secret deal", contact=world.olga, responsible=world.org.op3)
    client.force_login(op1)
    for url in (f"/crm/contacts/{world.olga.pk}/", "/crm/contacts/"):
        html = body(client.get(url))
        assert "Olga" in html and "Hidden Holding" not in html and "Secret deal" not in html
    # A viewer who sees every record still sees only the conversations visible_to them.
    grant(op1, view_crm=30)
    page = client.get(f"/crm/leads/{world.lead.pk}/")
    assert page.status_code == 200 and page.context["table"] == []
    assert f"/contact-center/conversations/{world.theirs.pk}/history/" not in body(page)
    page = client.get(f"/crm/activities/{world.a_theirs.pk}/")
    assert page.status_code == 200 and page.context["table"] == []


# Conversion and re-binding write into conversations ----------------------------------------


def _events(conversation) -> int:
    return ConversationEvent.objects.filter(conversation=conversation).count()


def test_converting_a_hidden_lead_is_not_found_and_writes_nothing(client, world):
    before = _events(world.theirs)
    client.force_login(world.org.op1)
    response = client.post(f"/crm/leads/{world.lead.pk}/convert/", {"contact_name": "Mine now"})
    assert response.status_code == 404
    with pytest.raises(services.NotFound):
        actions.convert_lead(world.lead.pk, world.org.op1)
    world.lead.refresh_from_db()
    assert world.lead.status == "new" and _events(world.theirs) == before
    assert not Contact.objects.filter(name="Mine now").exists()


def test_converting_a_lead_of_a_conversation_the_user_may_not_act_on_is_refused(client, world):
    """The reported case: a visible, editable lead whose conversation op1 may not see."""
    op1 = world.org.op1
    grant(op1, view_crm=30, edit_crm=30)
    before = _events(world.theirs)
    client.force_login(op1)
    page = client.get(f"/crm/leads/{world.lead.pk}/")
    assert page.status_code == 200 and page.context["convert_form"] is None
    assert "you cannot convert it" in body(page)
    response = client.post(f"/crm/leads/{world.lead.pk}/convert/", {"contact_name": "Mine now"})
    assert response.status_code == 403
    world.lead.refresh_from_db()
    assert world.lead.status == "new" and _events(world.theirs) == before
    assert not Contact.objects.filter(name="Mine now").exists()
    # op3, who holds the conversation, converts it (Manager: edit own; the lead is op3's).
    contact, _company, _deal = actions.convert_lead(world.lead.pk, world.org.op3)
    assert _events(world.theirs) == before + 1 and contact.responsible == world.org.op3


def test_rebinding_needs_edit_rights_on_the_conversation_and_the_record(client, world):
    op1 = world.org.op1
    client.force_login(op1)
    url = f"/crm/conversations/{world.mine.pk}/rebind/"
    # A hidden record cannot be chosen: the same answer as a missing one.
    refused = client.post(url, {"entity_type": "contact", "entity_id": world.sven.pk})
    missing = client.post(url, {"entity_type": "contact", "entity_id": MISSING})
    assert refused.status_code == missing.status_code == 400
    assert refused.context["form"].errors["entity_id"] == [
        f"contact #{world.sven.pk} does not exist."
    ]
    assert missing.context["form"].errors["entity_id"] == [f"contact #{MISSING} does not exist."]
    # A visible record the user may not edit: 403.
    grant(op1, view_crm=30)
    before = _events(world.mine)
    response = client.post(url, {"entity_type": "contact", "entity_id": world.sven.pk})
    assert response.status_code == 403
    world.mine.refresh_from_db()
    assert world.mine.crm_entity_id == world.ana.pk and _events(world.mine) == before
    # A conversation the user sees but may not act on: 403; one hidden from them: 404.
    grant(op1, view_conversations=30)
    theirs = f"/crm/conversations/{world.theirs.pk}/rebind/"
    assert client.get(theirs).status_code == 403
    data = {"entity_type": "contact", "entity_id": world.olga.pk}
    assert client.post(theirs, data).status_code == 403
    with pytest.raises(services.NotAllowed):
        actions.rebind(world.theirs.pk, op1, "contact", world.olga.pk)
    client.force_login(world.org.op2)
    assert client.get(theirs).status_code == 404 and client.post(theirs, data).status_code == 404
    world.theirs.refresh_from_db()
    assert world.theirs.crm_entity_type == "lead"
    # Allowed: the own conversation to the own record.
    client.force_login(op1)
    assert client.post(url, data).status_code == 302
    world.mine.refresh_from_db()
    assert world.mine.crm_entity_id == world.olga.pk
