"""Employee actions on CRM records that reach conversations: lead conversion and re-binding.

Each runs in one transaction, rewrites the affected conversations' links and records one
history event per conversation through `services.record_crm_change`. Both write into
conversations, so both need the right to act on them besides the CRM rule (crm/visibility.py):
a hidden record or conversation raises NotFound (as a missing one), a visible one the user may
not change NotAllowed.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from convodesk.conversations import services, visibility
from convodesk.conversations.models import Conversation, ConversationCrmLink

from . import binding
from .models import MODELS, Activity, Company, Contact, ContactIdentity, Deal, Lead
from .services import record_event
from .visibility import can, record_for


class CrmError(Exception):
    """A CRM action that cannot be done as asked; the message is shown to the employee."""

    def __init__(self, message):
        self.message = message
        super().__init__(str(message))


def _ref(record) -> dict:
    return {"type": record.entity_type, "id": record.pk, "title": record.display_title}


CANNOT_CONVERT = _l("This lead has conversations you may not act on, so you cannot convert it.")


def lead_conversation_ids(lead_id: int) -> list[int]:
    return list(
        ConversationCrmLink.objects.filter(entity_type="lead", entity_id=lead_id)
        .order_by("conversation_id")
        .values_list("conversation_id", flat=True)
    )


def may_act_on_all(user, conversation_ids: list[int]) -> bool:
    """Whether `user` may act on every one of these conversations (which ones are not said:
    some may be conversations the user may not even see)."""
    actable = Conversation.objects.visible_to(user, "act").filter(pk__in=conversation_ids)
    return actable.count() == len(set(conversation_ids))


def convert_lead(
    lead_id: int,
    user,
    *,
    contact_name: str = "",
    company_title: str = "",
    deal_title: str = "",
    deal_amount: Decimal | None = None,
    create_deal: bool = False,
):
    """Turn an open lead into a contact (+ company, + deal); its conversations move to them.

    Needs the right to edit the lead and to act on every conversation of it (each gets an
    event): NotFound for a hidden or missing lead, NotAllowed otherwise."""
    with transaction.atomic():
        lead = record_for(user, Lead.objects.select_for_update(), lead_id, "edit")
        if not lead.is_open:
            raise CrmError(_("Only a new or in-work lead can be converted."))
        conversation_ids = lead_conversation_ids(lead.pk)
        if not may_act_on_all(user, conversation_ids):
            raise services.NotAllowed(CANNOT_CONVERT)
        responsible = lead.responsible or (None if user.is_integration else user)
        country = lead.line.default_country if lead.line_id else binding.default_country()
        contact = Contact.objects.create(
            name=(contact_name or lead.name or lead.title)[:255],
            responsible=responsible,
            comment=lead.comment,
        )
        if lead.phone:
            contact.add_phone(
                lead.phone,
                country,
                verified=lead.contact_data_verified,
                source_id=lead.connection_id,
            )
        if lead.email:
            contact.add_email(
                lead.email, verified=lead.contact_data_verified, source_id=lead.connection_id
            )
        if lead.connection_id and lead.external_id:
            contact.add_identity(lead.connection_id, lead.external_id)
        company = None
        title = (company_title or lead.company_title).strip()
        if title:
            company = Company.objects.create(title=title[:255], responsible=responsible)
            contact.company = company
            contact.save(update_fields=["company"])
        deal = None
        if create_deal:
            deal = Deal.objects.create(
                title=(deal_title or lead.title)[:255],
                amount=deal_amount or 0,
                contact=contact,
                company=company,
                responsible=responsible,
            )
        lead.status = Lead.Status.CONVERTED
        lead.contact, lead.company, lead.deal = contact, company, deal
        lead.save()
        made = [r for r in (contact, company, deal) if r is not None]
        for record in made:  # each timeline starts with where it came from
            record_event(
                record, "created", user, {"title": record.display_title, "lead": _ref(lead)}
            )
        record_event(lead, "converted", user, {"records": [_ref(r) for r in made]})
        primary = contact
        records = [r for r in (contact, deal, company) if r is not None]
        for conversation_id in conversation_ids:
            Conversation.objects.select_for_update().filter(pk=conversation_id).first()
            services.write_links(conversation_id, records)
            Activity.objects.filter(conversation_id=conversation_id).update(
                owner_type=primary.entity_type, owner_id=primary.pk
            )
            services.record_crm_change(
                conversation_id,
                services.Actor.of(user),
                "crm_lead_converted",
                {
                    **_ref(contact),
                    "lead": _ref(lead),
                    "contact": _ref(contact),
                    "company": company and _ref(company),
                    "deal": deal and _ref(deal),
                },
            )
        return contact, company, deal


def rebind(conversation_id: int, user, entity_type: str, entity_id: int) -> Conversation:
    """Bind a conversation to another CRM record chosen by an employee who may act on it."""
    visibility.access(user, conversation_id, "act")
    model = MODELS.get(entity_type)
    if model is None or entity_type == "activity":
        raise CrmError(_("Choose a contact, company, lead or deal."))
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update()
            .select_related("client", "identity", "line")
            .get(pk=conversation_id)
        )
        # A record the user may not see does not exist for them (the same message).
        target = model.objects.visible_to(user, "view").filter(pk=entity_id).first()
        if target is None:
            raise CrmError(
                _("%(type)s #%(id)s does not exist.")
                % {"type": model._meta.verbose_name, "id": entity_id}
            )
        if not can(user, target, "edit"):
            raise services.NotAllowed(_("You may not change this CRM record."))
        before = None
        if conversation.crm_entity_type:
            before = {
                "type": conversation.crm_entity_type,
                "id": conversation.crm_entity_id,
                "title": conversation.crm_title,
            }
        if isinstance(target, Contact):
            # The client's identity belongs to this contact from now on, so their next conversation binds here.
            identity = conversation.identity
            ContactIdentity.objects.update_or_create(
                connection_id=identity.connection_id,
                external_id=identity.external_id,
                defaults={"contact": target},
            )
            # The client's phone and e-mail join the contact: verified when the channel vouches
            # for them, shown as unverified (never matched on) when the client typed them.
            client = conversation.client
            verified = not binding.typed_by_client(conversation)
            country = conversation.line.default_country if conversation.line_id else ""
            source = conversation.connection_id
            if client.phone:
                target.add_phone(client.phone, country, verified=verified, source_id=source)
            if client.email:
                target.add_email(client.email, verified=verified, source_id=source)
        services.write_links(conversation.pk, binding.related_records(target))
        activity = services.ensure_activity(conversation, target)
        services.record_crm_change(
            conversation,
            services.Actor.of(user),
            "crm_rebound",
            {**_ref(target), "from": before, "to": _ref(target)},
            activity_id=activity.pk,
        )
        return conversation
