"""The CRM's writes: create, change and delete records, move deals through a pipeline, make a
deal from a conversation. Views, the API and the import call these; each runs in one
transaction with the timeline event (`CrmEvent`) it records, and obeys the CRM rule
(crm/visibility.py): NotFound for a hidden or missing record, NotAllowed for one the user may
see but not change, FieldErrors for what cannot be saved as asked.

A record a user saves must stay one they may edit: giving it to a responsible employee outside
their CRM edit scope is refused (they would lose it on the spot), as is creating records with
the edit level "none".
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from convodesk.accounts.access import level
from convodesk.accounts.models import Level
from convodesk.conversations import services as conversation_services
from convodesk.conversations.models import Conversation, ConversationCrmLink
from convodesk.conversations.services import NotAllowed, NotFound
from convodesk.fielderrors import FieldErrors

from .models import (
    CLOSED_STAGES,
    Activity,
    Company,
    Contact,
    ContactIdentity,
    CrmEvent,
    Deal,
    Lead,
    MatchSuggestion,
    Pipeline,
)
from .visibility import can, record_for

__all__ = [
    "NotAllowed",
    "NotFound",
    "FieldErrors",
    "record_event",
    "may_create",
    "save_form",
    "delete_record",
    "move_deal",
    "deal_from_conversation",
]

CANNOT_UNLINK = _("This record has conversations you may not act on, so you cannot delete it.")


def _actor(user):
    return user if getattr(user, "pk", None) else None


def ref(record) -> dict:
    return {"type": record.entity_type, "id": record.pk, "title": record.display_title}


def record_event(record, kind: str, user=None, payload=None, at=None) -> CrmEvent:
    """One line of `record`'s timeline (inside the caller's transaction)."""
    return CrmEvent.objects.create(
        entity_type=record.entity_type,
        entity_id=record.pk,
        kind=kind,
        actor=_actor(user),
        at=at or timezone.now(),
        payload=payload or {},
    )


def may_create(user) -> bool:
    """Whether `user` may create CRM records at all (a CRM edit level above "none")."""
    return bool(
        user and user.is_authenticated and user.is_active and level(user, "edit_crm") >= Level.OWN
    )


def _changes(form) -> dict:
    """The changed fields of a bound, valid form as {field: [before, after]} (plain text)."""
    changes = {}
    for name in form.changed_data:
        field = form.fields[name]
        if field.disabled:
            continue
        before = form.initial.get(name, "")
        after = form.cleaned_data.get(name)
        changes[name] = [_plain(before), _plain(after)]
    return changes


def _plain(value):
    if value is None:
        return ""
    if hasattr(value, "pk"):
        return str(value)
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def save_form(user, form):
    """Create (form without an instance pk) or change a record through its card form; the form
    must be bound. Returns the record; FieldErrors when the form does not validate or the
    result would leave the user's scope."""
    instance = form.instance
    creating = instance.pk is None
    if creating:
        if not may_create(user):
            raise NotAllowed(_("You may not create CRM records."))
    else:
        record_for(user, type(instance), instance.pk, "edit")
    if not form.is_valid():
        raise FieldErrors({k: " ".join(v) for k, v in form.errors.items()})
    old_stage = None
    if isinstance(instance, Deal) and not creating:
        old_stage = type(instance).objects.filter(pk=instance.pk).values_list("stage", flat=True)[0]
    with transaction.atomic():
        record = form.save()
        if not can(user, record, "edit"):
            transaction.set_rollback(True)
            raise FieldErrors(
                {
                    "responsible": _(
                        "You would no longer be able to change this record: choose yourself or "
                        "an employee within your CRM scope as responsible."
                    )
                }
            )
        if creating:
            record_event(record, "created", user, {"title": record.display_title})
        else:
            changes = _changes(form)
            changes.pop("stage", None)
            if changes:
                record_event(record, "updated", user, {"changes": changes})
        if isinstance(record, Deal) and old_stage != record.stage:
            _stage_moved(record, old_stage, user)
            record.save(update_fields=["closed_at"])
        if isinstance(record, Activity) and record.owner_type:
            owner_model = {"contact": Contact, "company": Company, "lead": Lead, "deal": Deal}
            owner = owner_model.get(record.owner_type)
            found = owner and owner.objects.filter(pk=record.owner_id).first()
            if found is not None and creating:
                record_event(
                    found,
                    "activity_added",
                    user,
                    {"activity": ref(record), "type": record.type},
                )
    return record


def _stage_moved(deal: Deal, old_stage: str | None, user) -> None:
    """Record a deal's move (its stage is already set) and keep `closed_at` in step."""
    if deal.stage in CLOSED_STAGES:
        deal.closed_at = deal.closed_at or timezone.now()
    else:
        deal.closed_at = None
        deal.lost_reason = ""
    kind = {"won": "deal_won", "lost": "deal_lost"}.get(deal.stage, "stage_changed")
    names = {s.code: s.name for s in deal.pipeline.stages.all()} if deal.pipeline_id else {}
    record_event(
        deal,
        kind,
        user,
        {
            "from": old_stage,
            "to": deal.stage,
            "from_name": names.get(old_stage or "", old_stage or ""),
            "to_name": names.get(deal.stage, deal.stage),
            "reason": deal.lost_reason,
            "amount": str(deal.amount),
            "currency": deal.currency,
        },
    )


def move_deal(user, deal_id: int, stage_code: str, reason: str = "") -> Deal:
    """Move a deal to another stage of its pipeline (the board's drag, won / lost with a
    reason). Lost needs a reason; moving to the stage it is in changes nothing."""
    reason = (reason or "").strip()[:255]
    with transaction.atomic():
        deal = record_for(user, Deal.objects.select_for_update(), deal_id, "edit")
        if deal.pipeline_id is None:
            deal.pipeline = Pipeline.default()
        stage = deal.pipeline.stages.filter(code=stage_code).first()
        if stage is None:
            raise FieldErrors({"stage": _("This pipeline has no such stage.")})
        if stage.outcome == "lost" and not reason:
            raise FieldErrors({"reason": _("Say why the deal was lost.")})
        if deal.stage == stage.code and not (stage.outcome == "lost" and reason):
            return deal
        old = deal.stage
        deal.stage = stage.code
        deal.lost_reason = reason if stage.outcome in ("won", "lost") else ""
        _stage_moved(deal, old, user)
        deal.save()
        return deal


def _unlink_conversations(record, user) -> list[int]:
    """Remove `record` from its conversations' CRM links, keeping the conversations; each gets
    an event. The next link (if any) becomes primary; the conversation's activity moves to it,
    or goes with the record when nothing else is bound."""
    conversation_ids = list(
        ConversationCrmLink.objects.filter(entity_type=record.entity_type, entity_id=record.pk)
        .order_by("conversation_id")
        .values_list("conversation_id", flat=True)
    )
    if not conversation_ids:
        return []
    actable = Conversation.objects.visible_to(user, "act").filter(pk__in=conversation_ids)
    if actable.count() != len(set(conversation_ids)):
        raise NotAllowed(CANNOT_UNLINK)
    for conversation_id in conversation_ids:
        Conversation.objects.select_for_update().filter(pk=conversation_id).first()
        ConversationCrmLink.objects.filter(
            conversation_id=conversation_id,
            entity_type=record.entity_type,
            entity_id=record.pk,
        ).delete()
        rest = list(
            ConversationCrmLink.objects.filter(conversation_id=conversation_id).order_by(
                "-is_primary", "id"
            )
        )
        activity = Activity.objects.filter(conversation_id=conversation_id).first()
        activity_id = activity.pk if activity else None
        if rest:
            if not rest[0].is_primary:
                rest[0].is_primary = True
                rest[0].save(update_fields=["is_primary"])
            if activity is not None:
                activity.owner_type, activity.owner_id = rest[0].entity_type, rest[0].entity_id
                activity.save(update_fields=["owner_type", "owner_id"])
        elif activity is not None:
            activity.delete()
            activity_id = None
        conversation_services.record_crm_change(
            conversation_id,
            conversation_services.Actor.of(user),
            "crm_unlinked",
            {**ref(record), "deleted": ref(record)},
            activity_id=activity_id,
        )
    return conversation_ids


def delete_record(user, model, pk: int) -> dict:
    """Delete a contact, company, lead, deal or activity the user may edit. The record's
    conversations stay, with its CRM link removed and an event each; its hand-made
    activities go with it. Returns what was deleted (type, id, title, conversations)."""
    with transaction.atomic():
        record = record_for(user, model.objects.select_for_update(), pk, "edit")
        gone = ref(record)
        if isinstance(record, Activity):
            if record.conversation_id:
                raise FieldErrors(
                    {
                        "__all__": _(
                            "This activity stands for a conversation: it goes when the "
                            "conversation's CRM record is deleted or changed."
                        )
                    }
                )
            owner = {"contact": Contact, "company": Company, "lead": Lead, "deal": Deal}.get(
                record.owner_type
            )
            found = owner and owner.objects.filter(pk=record.owner_id).first()
            if found is not None:
                record_event(found, "activity_deleted", user, {"activity": gone})
            record.delete()
            return {**gone, "conversations": []}
        conversations = _unlink_conversations(record, user)
        Activity.objects.filter(
            owner_type=record.entity_type, owner_id=record.pk, conversation__isnull=True
        ).delete()
        MatchSuggestion.objects.filter(entity_type=record.entity_type, entity_id=record.pk).delete()
        if isinstance(record, Contact):
            ContactIdentity.objects.filter(contact=record).delete()
        record_event(record, "deleted", user, {**gone, "conversations": conversations})
        record.delete()
        return {**gone, "conversations": conversations}


def deal_from_conversation(user, conversation_id: int) -> Deal:
    """One click in a conversation's history: a deal in the default pipeline for the
    conversation's client (their bound contact, or a new contact made from the client), bound
    to the conversation beside its current records."""
    if not Conversation.objects.visible_to(user, "view").filter(pk=conversation_id).exists():
        raise NotFound(conversation_id)
    if not Conversation.objects.visible_to(user, "act").filter(pk=conversation_id).exists():
        raise NotAllowed()
    if not may_create(user):
        raise NotAllowed(_("You may not create CRM records."))
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update()
            .select_related("client", "identity", "line")
            .get(pk=conversation_id)
        )
        links = list(conversation.crm_links.order_by("-is_primary", "id"))
        contact_link = next((x for x in links if x.entity_type == "contact"), None)
        contact = contact_link and Contact.objects.filter(pk=contact_link.entity_id).first()
        if contact is None:
            client = conversation.client
            contact = Contact.objects.create(
                name=client.name[:255] or _("Client"), responsible=conversation.responsible
            )
            identity = conversation.identity
            ContactIdentity.objects.get_or_create(
                connection_id=identity.connection_id,
                external_id=identity.external_id,
                defaults={"contact": contact},
            )
            country = conversation.line.default_country if conversation.line_id else ""
            if client.phone:
                contact.add_phone(client.phone, country, verified=False)
            if client.email:
                contact.add_email(client.email, verified=False)
            record_event(contact, "created", user, {"conversation": conversation.pk})
        pipeline = Pipeline.default()
        first = next((s for s in pipeline.ordered_stages() if s.outcome == "open"), None)
        deal = Deal.objects.create(
            title=(
                _("%(client)s — conversation #%(id)s")
                % {"client": contact.name, "id": conversation.pk}
            )[:255],
            pipeline=pipeline,
            stage=first.code if first else Deal.Stage.NEW,
            contact=contact,
            company=contact.company,
            responsible=conversation.responsible
            or (None if getattr(user, "is_integration", False) else user),
            source_conversation=conversation,
        )
        record_event(deal, "created", user, {"conversation": conversation.pk})
        keep = [(x.entity_type, x.entity_id) for x in links]
        wanted = keep or [("contact", contact.pk)]
        if ("contact", contact.pk) not in wanted:
            wanted.append(("contact", contact.pk))
        wanted.insert(1 if wanted else 0, ("deal", deal.pk))
        titles = {(x.entity_type, x.entity_id): x.title for x in links}
        titles[("contact", contact.pk)] = contact.name
        titles[("deal", deal.pk)] = deal.title
        ConversationCrmLink.objects.filter(conversation=conversation).delete()
        ConversationCrmLink.objects.bulk_create(
            [
                ConversationCrmLink(
                    conversation=conversation,
                    entity_type=kind,
                    entity_id=pk,
                    title=titles.get((kind, pk), "")[:255],
                    is_primary=i == 0,
                )
                for i, (kind, pk) in enumerate(wanted)
            ]
        )
        activity = Activity.objects.filter(conversation=conversation).first()
        if activity is None:
            from . import binding

            activity = binding.ensure_activity(conversation, contact)
        conversation_services.record_crm_change(
            conversation.pk,
            conversation_services.Actor.of(user),
            "crm_deal_created",
            {**ref(deal), "deal": ref(deal), "contact": ref(contact)},
            activity_id=activity.pk,
        )
        return deal
