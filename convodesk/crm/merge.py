"""Possible duplicate contacts and their merge (issue 20, item 4).

Duplicates: contacts sharing a normalised phone, a normalised e-mail, or the same folded name
(`fold`: case and accents ignored), among the contacts the viewer may see.

A merge keeps one contact and removes the other. The employee picks each field's value; every
phone, e-mail, channel identity, conversation link, activity, deal and lead of the removed
contact moves to the kept one; each moved conversation gets an event, both timelines a "merged"
line. The merge is kept (`CrmMerge`) for 30 days: undoing it brings the removed contact back
with its id and fields and moves back exactly what the merge moved. Both need the right to edit
both contacts and to act on the removed contact's conversations.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from convodesk.conversations import services as conversation_services
from convodesk.conversations.models import Conversation, ConversationCrmLink
from convodesk.conversations.services import NotAllowed, NotFound
from convodesk.fielderrors import FieldErrors

from .models import (
    Activity,
    Contact,
    ContactEmail,
    ContactIdentity,
    ContactPhone,
    CrmMerge,
    Deal,
    Lead,
    MatchSuggestion,
)
from .services import record_event, ref
from .visibility import record_for

FIELDS = ("name", "company", "responsible", "comment")
CANNOT_MOVE = _("The contact has conversations you may not act on, so you cannot merge it.")
LIMIT = 200


def duplicates_of(user, contact: Contact) -> list[tuple[Contact, list[str]]]:
    """Visible contacts that may be the same person as `contact`, with why."""
    phones = list(contact.phones.values_list("normalized", flat=True))
    emails = list(contact.emails.values_list("normalized", flat=True))
    cond = Q(name_key=contact.name_key) if contact.name_key else Q(pk__in=[])
    if phones:
        cond |= Q(phones__normalized__in=phones)
    if emails:
        cond |= Q(emails__normalized__in=emails)
    found = (
        Contact.objects.visible_to(user, "view")
        .filter(cond)
        .exclude(pk=contact.pk)
        .distinct()
        .order_by("-id")[:20]
    )
    result = []
    for other in found:
        why = []
        if contact.name_key and other.name_key == contact.name_key:
            why.append(str(_("the same name")))
        if phones and other.phones.filter(normalized__in=phones).exists():
            why.append(str(_("the same phone")))
        if emails and other.emails.filter(normalized__in=emails).exists():
            why.append(str(_("the same e-mail")))
        result.append((other, why))
    return result


def duplicate_groups(user) -> list[dict]:
    """Groups of visible contacts sharing a phone, an e-mail or a name, largest first."""
    visible = Contact.objects.visible_to(user, "view")
    groups = []
    sources = (
        (
            str(_("Phone")),
            ContactPhone.objects.filter(contact__in=visible, verified=True),
            "normalized",
        ),
        (
            str(_("E-mail")),
            ContactEmail.objects.filter(contact__in=visible, verified=True),
            "normalized",
        ),
    )
    for label, rows, key in sources:
        shared = (
            rows.values(key)
            .annotate(n=Count("contact", distinct=True))
            .filter(n__gt=1)
            .order_by("-n")[:LIMIT]
        )
        for row in shared:
            ids = rows.filter(**{key: row[key]}).values_list("contact_id", flat=True)
            groups.append({"by": label, "value": row[key], "ids": sorted(set(ids))})
    names = (
        visible.exclude(name_key="")
        .values("name_key")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .order_by("-n")[:LIMIT]
    )
    for row in names:
        ids = visible.filter(name_key=row["name_key"]).values_list("pk", flat=True)
        groups.append({"by": str(_("Name")), "value": row["name_key"], "ids": sorted(ids)})
    contacts = {
        c.pk: c
        for c in Contact.objects.filter(
            pk__in={i for g in groups for i in g["ids"]}
        ).select_related("responsible")
    }
    for group in groups:
        group["contacts"] = [contacts[i] for i in group["ids"] if i in contacts]
    groups.sort(key=lambda g: -len(g["ids"]))
    return groups


def _fields(contact: Contact) -> dict:
    return {
        "name": contact.name,
        "company_id": contact.company_id,
        "responsible_id": contact.responsible_id,
        "comment": contact.comment,
    }


def _conversations_of(contact_id: int) -> list[int]:
    return list(
        ConversationCrmLink.objects.filter(entity_type="contact", entity_id=contact_id)
        .order_by("conversation_id")
        .values_list("conversation_id", flat=True)
    )


def _may_act_on_all(user, ids) -> bool:
    return Conversation.objects.visible_to(user, "act").filter(pk__in=ids).count() == len(set(ids))


def merge(user, kept_id: int, removed_id: int, choices: dict[str, str]) -> CrmMerge:
    """Merge `removed_id` into `kept_id`; `choices` maps each of FIELDS to "kept" or
    "removed" (whose value the kept contact takes; "kept" when not said)."""
    if kept_id == removed_id:
        raise FieldErrors({"__all__": _("Choose two different contacts.")})
    with transaction.atomic():
        first, second = sorted([kept_id, removed_id])
        locked = {
            pk: record_for(user, Contact.objects.select_for_update(), pk, "edit")
            for pk in (first, second)
        }
        kept, removed = locked[kept_id], locked[removed_id]
        conversation_ids = _conversations_of(removed.pk)
        if not _may_act_on_all(user, conversation_ids):
            raise NotAllowed(CANNOT_MOVE)
        before = _fields(kept)
        snapshot = {**_fields(removed), "created_at": removed.created_at.isoformat()}
        for name in FIELDS:
            if choices.get(name) == "removed":
                attr = f"{name}_id" if name in ("company", "responsible") else name
                setattr(kept, attr, getattr(removed, attr))
        kept.save()
        moved: dict[str, list] = {}
        known_phones = set(kept.phones.values_list("normalized", flat=True))
        phones = list(removed.phones.all())
        moved["phones"] = [p.pk for p in phones if p.normalized not in known_phones]
        moved["dropped_phones"] = [
            {"value": p.value, "normalized": p.normalized, "verified": p.verified}
            for p in phones
            if p.normalized in known_phones
        ]
        ContactPhone.objects.filter(pk__in=moved["phones"]).update(contact=kept)
        known_emails = set(kept.emails.values_list("normalized", flat=True))
        emails = list(removed.emails.all())
        moved["emails"] = [e.pk for e in emails if e.normalized not in known_emails]
        moved["dropped_emails"] = [
            {"value": e.value, "normalized": e.normalized, "verified": e.verified}
            for e in emails
            if e.normalized in known_emails
        ]
        ContactEmail.objects.filter(pk__in=moved["emails"]).update(contact=kept)
        moved["identities"] = list(removed.identities.values_list("pk", flat=True))
        ContactIdentity.objects.filter(pk__in=moved["identities"]).update(contact=kept)
        moved["activities"] = list(
            Activity.objects.filter(owner_type="contact", owner_id=removed.pk).values_list(
                "pk", flat=True
            )
        )
        Activity.objects.filter(pk__in=moved["activities"]).update(owner_id=kept.pk)
        moved["deals"] = list(removed.deals.values_list("pk", flat=True))
        Deal.objects.filter(pk__in=moved["deals"]).update(contact=kept)
        moved["leads"] = list(removed.leads.values_list("pk", flat=True))
        Lead.objects.filter(pk__in=moved["leads"]).update(contact=kept)
        moved["suggestions"] = list(
            MatchSuggestion.objects.filter(entity_type="contact", entity_id=removed.pk).values_list(
                "pk", flat=True
            )
        )
        MatchSuggestion.objects.filter(pk__in=moved["suggestions"]).update(entity_id=kept.pk)
        moved["links"], moved["dropped_links"] = [], []
        for link in ConversationCrmLink.objects.filter(entity_type="contact", entity_id=removed.pk):
            if ConversationCrmLink.objects.filter(
                conversation_id=link.conversation_id, entity_type="contact", entity_id=kept.pk
            ).exists():
                moved["dropped_links"].append(
                    {
                        "conversation_id": link.conversation_id,
                        "title": link.title,
                        "is_primary": link.is_primary,
                    }
                )
                was_primary = link.is_primary
                link.delete()
                if was_primary:
                    ConversationCrmLink.objects.filter(
                        conversation_id=link.conversation_id,
                        entity_type="contact",
                        entity_id=kept.pk,
                    ).update(is_primary=True)
            else:
                moved["links"].append(link.pk)
                link.entity_id, link.title = kept.pk, kept.name[:255]
                link.save(update_fields=["entity_id", "title"])
        ConversationCrmLink.objects.filter(entity_type="contact", entity_id=kept.pk).update(
            title=kept.name[:255]
        )
        at = timezone.now()
        record = CrmMerge.objects.create(
            kept=kept,
            removed_id=removed.pk,
            removed=snapshot,
            kept_before=before,
            moved=moved,
            actor=user if getattr(user, "pk", None) else None,
            at=at,
        )
        gone = ref(removed)
        record_event(kept, "merged", user, {"merged": gone, "merge": record.pk}, at=at)
        record_event(removed, "merged", user, {"merged": gone, "into": ref(kept)}, at=at)
        removed.delete()
        kept.refresh_search()
        for conversation_id in conversation_ids:
            conversation_services.record_crm_change(
                conversation_id,
                conversation_services.Actor.of(user),
                "crm_merged",
                {**ref(kept), "merged": gone},
            )
        return record


def can_undo(merge_record: CrmMerge, now=None) -> bool:
    now = now or timezone.now()
    return merge_record.undone_at is None and now - merge_record.at <= dt.timedelta(
        days=CrmMerge.UNDO_DAYS
    )


def undo(user, merge_id: int, now=None) -> Contact:
    """Bring the removed contact back (same id and fields) and move back what the merge moved;
    the kept contact's merged fields return to what they were."""
    with transaction.atomic():
        merge_record = CrmMerge.objects.select_for_update().filter(pk=merge_id).first()
        if merge_record is None:
            raise NotFound(merge_id)
        kept = record_for(user, Contact.objects.select_for_update(), merge_record.kept_id, "edit")
        if not can_undo(merge_record, now):
            raise FieldErrors(
                {"__all__": _("This merge can no longer be undone (30 days, or undone already).")}
            )
        moved = merge_record.moved
        links = list(ConversationCrmLink.objects.filter(pk__in=moved.get("links", [])))
        conversation_ids = sorted(
            {x.conversation_id for x in links}
            | {d["conversation_id"] for d in moved.get("dropped_links", [])}
        )
        if not _may_act_on_all(user, conversation_ids):
            raise NotAllowed(CANNOT_MOVE)
        data = merge_record.removed
        removed = Contact(
            pk=merge_record.removed_id,
            name=data["name"],
            company_id=data["company_id"],
            responsible_id=data["responsible_id"],
            comment=data["comment"],
        )
        removed.save(force_insert=True)
        Contact.objects.filter(pk=removed.pk).update(
            created_at=dt.datetime.fromisoformat(data["created_at"])
        )
        for name, value in merge_record.kept_before.items():
            setattr(kept, name, value)
        kept.save()
        ContactPhone.objects.filter(pk__in=moved.get("phones", []), contact=kept).update(
            contact=removed
        )
        for row in moved.get("dropped_phones", []):
            ContactPhone.objects.create(contact=removed, **row)
        ContactEmail.objects.filter(pk__in=moved.get("emails", []), contact=kept).update(
            contact=removed
        )
        for row in moved.get("dropped_emails", []):
            ContactEmail.objects.create(contact=removed, **row)
        ContactIdentity.objects.filter(pk__in=moved.get("identities", []), contact=kept).update(
            contact=removed
        )
        Activity.objects.filter(
            pk__in=moved.get("activities", []), owner_type="contact", owner_id=kept.pk
        ).update(owner_id=removed.pk)
        Deal.objects.filter(pk__in=moved.get("deals", []), contact=kept).update(contact=removed)
        Lead.objects.filter(pk__in=moved.get("leads", []), contact=kept).update(contact=removed)
        MatchSuggestion.objects.filter(pk__in=moved.get("suggestions", [])).update(
            entity_id=removed.pk
        )
        for link in links:
            if (link.entity_type, link.entity_id) == ("contact", kept.pk):
                link.entity_id, link.title = removed.pk, removed.name[:255]
                link.save(update_fields=["entity_id", "title"])
        for row in moved.get("dropped_links", []):
            if row["is_primary"]:
                ConversationCrmLink.objects.filter(
                    conversation_id=row["conversation_id"], is_primary=True
                ).update(is_primary=False)
            ConversationCrmLink.objects.get_or_create(
                conversation_id=row["conversation_id"],
                entity_type="contact",
                entity_id=removed.pk,
                defaults={"title": row["title"], "is_primary": row["is_primary"]},
            )
        ConversationCrmLink.objects.filter(entity_type="contact", entity_id=kept.pk).update(
            title=kept.name[:255]
        )
        merge_record.undone_at = timezone.now()
        merge_record.save(update_fields=["undone_at"])
        record_event(kept, "merge_undone", user, {"merged": ref(removed)})
        record_event(removed, "merge_undone", user, {"merged": ref(removed), "from": ref(kept)})
        removed.refresh_search()
        kept.refresh_search()
        for conversation_id in conversation_ids:
            conversation_services.record_crm_change(
                conversation_id,
                conversation_services.Actor.of(user),
                "crm_merge_undone",
                {**ref(removed), "merged": ref(removed)},
            )
        return removed
