"""Issue 20, item 5: the deal pipeline. Stages per pipeline edited in the settings, amount with
currency, the board's moves (won / lost with a reason) through `services.move_deal` with events,
a deal from a conversation in one click, and the pipeline statistics."""

import pytest

from convodesk.audit.models import AuditEntry
from convodesk.conversations import services as conv_services
from convodesk.conversations.models import ConversationCrmLink, ConversationEvent
from convodesk.crm import services
from convodesk.crm.models import Contact, CrmEvent, Deal, Pipeline, PipelineStage

from .. import factories as f


def moves(deal) -> list[tuple[str, str, str]]:
    return [
        (e.kind, e.payload["from"], e.payload["to"])
        for e in CrmEvent.objects.filter(entity_type="deal", entity_id=deal.pk).order_by("id")
        if e.kind in ("stage_changed", "deal_won", "deal_lost")
    ]


def test_moves_are_recorded_and_lost_needs_a_reason(org):
    deal = Deal.objects.create(title="Order", pipeline=Pipeline.default(), responsible=org.op1)
    services.move_deal(org.op1, deal.pk, "negotiation")
    with pytest.raises(services.FieldErrors) as refused:
        services.move_deal(org.op1, deal.pk, "lost")
    assert "reason" in refused.value.errors
    with pytest.raises(services.FieldErrors):
        services.move_deal(org.op1, deal.pk, "no-such-stage")
    deal = services.move_deal(org.op1, deal.pk, "lost", "Chose a competitor")
    assert (deal.stage, deal.lost_reason, deal.is_open) == ("lost", "Chose a competitor", False)
    assert deal.closed_at is not None
    deal = services.move_deal(org.op1, deal.pk, "won")
    assert deal.outcome == "won" and deal.lost_reason == ""
    assert moves(deal) == [
        ("stage_changed", "new", "negotiation"),
        ("deal_lost", "negotiation", "lost"),
        ("deal_won", "lost", "won"),
    ]
    with pytest.raises(services.NotFound):  # op3 cannot see op1's deal
        services.move_deal(org.op3, deal.pk, "new")


def test_the_board_shows_stages_and_moves_a_deal_as_the_drag_posts_it(client, org):
    pipeline = Pipeline.default()
    deal = Deal.objects.create(
        title="Order", pipeline=pipeline, amount=250, currency="USD", responsible=org.op1
    )
    hidden = Deal.objects.create(title="Hidden deal", pipeline=pipeline, responsible=org.op3)
    client.force_login(org.op1)
    html = client.get("/crm/deals/board/").content.decode()
    for stage in pipeline.stages.all():
        assert f'data-stage="{stage.code}"' in html
    assert "Order" in html and "250.00 USD" in html and hidden.title not in html
    Deal.objects.create(title="Chairs", pipeline=pipeline, amount=4800, responsible=org.op1)
    html = client.get("/crm/deals/board/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    # Per currency, in the reader's language (a non-breaking space groups thousands in Spanish).
    assert "4\xa0800,00 EUR · 250,00 USD" in html
    assert 'src="/static/convodesk/crm-board.js"' in html and "<script>" not in html
    json_headers = {"HTTP_ACCEPT": "application/json"}
    moved = client.post(f"/crm/deals/{deal.pk}/move/", {"stage": "won"}, **json_headers)
    assert moved.status_code == 200 and moved.json()["stage"] == "won"
    refused = client.post(f"/crm/deals/{deal.pk}/move/", {"stage": "lost"}, **json_headers)
    assert refused.status_code == 400 and "reason" in refused.json()["errors"]
    assert client.post(f"/crm/deals/{hidden.pk}/move/", {"stage": "won"}).status_code == 404
    # Without the script: the card's form posts the same move and comes back.
    back = client.post(
        f"/crm/deals/{deal.pk}/move/", {"stage": "lost", "reason": "Budget", "back": "card"}
    )
    assert back.status_code == 302 and back["Location"] == f"/crm/deals/{deal.pk}/"
    deal.refresh_from_db()
    assert (deal.stage, deal.lost_reason) == ("lost", "Budget")


def test_a_deal_is_made_from_a_conversation_in_one_click(client, org):
    conv = f.client_message(org.conn, "c1", name="Luis", phone="600112233").conversation
    conv_services.take(conv.pk, f.act(org.op1))
    client.force_login(org.op1)
    history = client.get(f"/contact-center/conversations/{conv.pk}/history/").content.decode()
    assert f'action="/crm/conversations/{conv.pk}/deal/"' in history
    response = client.post(f"/crm/conversations/{conv.pk}/deal/")
    deal = Deal.objects.get()
    assert response["Location"] == f"/crm/deals/{deal.pk}/"
    contact = Contact.objects.get(name="Luis")
    assert (deal.contact, deal.source_conversation_id, deal.stage) == (contact, conv.pk, "new")
    links = set(
        ConversationCrmLink.objects.filter(conversation=conv).values_list(
            "entity_type", "entity_id"
        )
    )
    assert {("deal", deal.pk), ("contact", contact.pk)} <= links
    assert ConversationEvent.objects.filter(conversation=conv, kind="crm_deal_created").exists()
    # Someone who may not act on the conversation gets what a missing one gets.
    client.force_login(org.op3)
    assert client.post(f"/crm/conversations/{conv.pk}/deal/").status_code == 404


def test_pipeline_statistics_convert_by_stage_and_sum_won_amounts(client, org):
    pipeline = Pipeline.default()
    won = Deal.objects.create(title="W", pipeline=pipeline, amount=100, responsible=org.op1)
    lost = Deal.objects.create(title="L", pipeline=pipeline, amount=50, responsible=org.op1)
    Deal.objects.create(title="N", pipeline=pipeline, responsible=org.op1)
    services.move_deal(org.admin, won.pk, "negotiation")
    services.move_deal(org.admin, won.pk, "won")
    services.move_deal(org.admin, lost.pk, "preparation")
    services.move_deal(org.admin, lost.pk, "lost", "Price")
    conv = f.client_message(org.conn, "c1", name="Luis").conversation
    ConversationCrmLink.objects.create(conversation=conv, entity_type="deal", entity_id=won.pk)
    client.force_login(org.admin)
    page = client.get("/crm/deals/statistics/")
    rows = {r["stage"].code: r["count"] for r in page.context["conversion"]}
    assert rows == {"new": 3, "preparation": 2, "negotiation": 1, "won": 1}
    assert [(r["n"], r["amount"]) for r in page.context["by_employee"]] == [(1, 100)]
    assert [(r["line"], r["amount"]) for r in page.context["by_line"]] == [(org.line.name, 100)]


def test_stages_are_edited_per_pipeline_in_the_settings(client, org):
    pipeline = Pipeline.default()
    Deal.objects.create(title="In prep", pipeline=pipeline, stage="preparation")
    client.force_login(org.admin)
    assert client.get("/settings/pipelines/").status_code == 200
    prep = pipeline.stages.get(code="preparation")
    nego = pipeline.stages.get(code="negotiation")
    data = {
        "name": "Sales",
        "is_default": "on",
        "new_stage": "Demo scheduled",
        **{f"stage-{s.pk}-name": s.name for s in pipeline.stages.all()},
        **{f"stage-{s.pk}-position": s.position for s in pipeline.stages.all()},
    }
    data[f"stage-{nego.pk}-name"] = "Talks"
    refused = client.post(
        f"/settings/pipelines/{pipeline.pk}/", {**data, f"stage-{prep.pk}-delete": "1"}
    )
    assert refused.status_code == 400 and "still holds deals" in refused.content.decode()
    assert not pipeline.stages.filter(name="Demo scheduled").exists()  # nothing half-saved
    assert client.post(f"/settings/pipelines/{pipeline.pk}/", data).status_code == 302
    nego.refresh_from_db()
    assert nego.name == "Talks" and nego.code == "negotiation"
    demo = pipeline.stages.get(name="Demo scheduled")
    assert demo.outcome == "open" and demo.code == "demo-scheduled"
    assert AuditEntry.objects.filter(action="crm.pipeline.update").exists()
    # The new stage is a column of the board and a choice of the deal form.
    assert 'data-stage="demo-scheduled"' in client.get("/crm/deals/board/").content.decode()
    deal = Deal.objects.create(title="D", pipeline=pipeline)
    services.move_deal(org.admin, deal.pk, "demo-scheduled")
    assert set(Deal.objects.filter(stage__in=Deal.OPEN_STAGES)) == {
        deal,
        Deal.objects.get(title="In prep"),
    }
    # A second pipeline comes with the standard stages and may be deleted while empty.
    client.post("/settings/pipelines/", {"name": "Partners"})
    partners = Pipeline.objects.get(name="Partners")
    assert set(partners.stages.values_list("code", flat=True)) == {
        "new",
        "preparation",
        "negotiation",
        "won",
        "lost",
    }
    assert client.post(f"/settings/pipelines/{pipeline.pk}/delete/").status_code == 302
    assert Pipeline.objects.filter(pk=pipeline.pk).exists()  # it holds deals
    client.post(f"/settings/pipelines/{partners.pk}/delete/")
    assert not Pipeline.objects.filter(pk=partners.pk).exists()
    assert not PipelineStage.objects.filter(pipeline_id=partners.pk).exists()
    client.force_login(org.op1)
    assert client.get("/settings/pipelines/").status_code in (302, 403, 404)
