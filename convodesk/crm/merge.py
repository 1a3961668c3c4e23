"""Possible duplicate contacts and companies, and their merge (issue 20, item 4).

One mechanism for both kinds, described per kind by a `Spec` (the fields picked one by one,
the rows that point at the record and move with it, the contact data kept without doubles).

Duplicates: records sharing a phone, an e-mail, or the same folded name (`fold`: case and
accents ignored), among the records the viewer may see (contacts: their normalised phone and
e-mail rows; companies: their phone and e-mail fields).

A merge keeps one record and removes the other. The employee picks each field's value; every
phone, e-mail, channel identity (contacts), contact (companies), conversation link, activity,
deal and lead of the removed record moves to the kept one; each moved conversation gets an
event, both timelines a "merged" line. The merge is kept (`CrmMerge`) for 30 days: undoing it
brings the removed record back with its id and fields and moves back exactly what the merge
moved. Both need the right to edit both records and to act on the removed one's conversations.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from convodesk.conversations import services as conversation_services
from convodesk.conversations.models import Conversation, ConversationCrmLink
from convodesk.conversations.services import NotAllowed, NotFound
from convodesk.fielderrors import FieldErrors

from .models import (
    Activity,
    Company,
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


@dataclass(frozen=True)
class Spec:
    """How one kind of record merges."""

    kind: str
    model: type
    fields: tuple[str, ...]  # picked one by one; foreign keys by their name
    foreign: frozenset  # which of `fields` are foreign keys
    kept_field: str  # CrmMerge's field holding the kept record
    moved_by_key: tuple  # (name, model) of contact data moved unless the kept one has it
    moved_by_fk: tuple  # (name, model, field) of rows pointing at the record


SPECS = {
    "contact": Spec(
        kind="contact",
        model=Contact,
        fields=("name", "company", "responsible", "comment"),
        foreign=frozenset({"company", "responsible"}),
        kept_field="kept",
        moved_by_key=(("phones", ContactPhone), ("emails", ContactEmail)),
        moved_by_fk=(
            ("identities", ContactIdentity, "contact"),
            ("deals", Deal, "contact"),
            ("leads", Lead, "contact"),
        ),
    ),
    "company": Spec(
        kind="company",
        model=Company,
        fields=("title", "phone", "email", "website", "responsible", "comment"),
        foreign=frozenset({"responsible"}),
        kept_field="kept_company",
        moved_by_key=(),
        moved_by_fk=(
            ("contacts", Contact, "company"),
            ("deals", Deal, "company"),
            ("leads", Lead, "company"),
        ),
    ),
}
FIELDS = SPECS["contact"].fields  # the contact merge's fields (kept for its callers)
CANNOT_MOVE = _("The record has conversations you may not act on, so you cannot merge it.")
LIMIT = 200


def spec_of(kind: str) -> Spec:
    spec = SPECS.get(kind)
    if spec is None:
        raise FieldErrors({"__all__": _("Only contacts and companies can be merged.")})
    return spec


def _shared_conditions(record) -> list[tuple[str, Q]]:
    """(why, condition) of the records that may be the same as `record`."""
    conds = []
    if record.name_key:
        conds.append((str(_("the same name")), Q(name_key=record.name_key)))
    if isinstance(record, Contact):
        phones = list(record.phones.values_list("normalized", flat=True))
        emails = list(record.emails.values_list("normalized", flat=True))
        if phones:
            conds.append((str(_("the same phone")), Q(phones__normalized__in=phones)))
        if emails:
            conds.append((str(_("the same e-mail")), Q(emails__normalized__in=emails)))
    else:
        if record.phone.strip():
            conds.append((str(_("the same phone")), Q(phone=record.phone.strip())))
        if record.email.strip():
            conds.append((str(_("the same e-mail")), Q(email__iexact=record.email.strip())))
    return conds


def duplicates_of(user, record) -> list[tuple[object, list[str]]]:
    """Visible records of the same kind that may be the same as `record`, with why."""
    conds = _shared_conditions(record)
    if not conds:
        return []
    model = type(record)
    any_of = Q(pk__in=[])
    for _why, cond in conds:
        any_of |= cond
    found = list(
        model.objects.visible_to(user, "view")
        .filter(any_of)
        .exclude(pk=record.pk)
        .distinct()
        .order_by("-id")[:20]
    )
    whys = {
        why: set(
            model.objects.filter(cond, pk__in=[o.pk for o in found]).values_list("pk", flat=True)
        )
        for why, cond in conds
    }
    return [(other, [why for why, ids in whys.items() if other.pk in ids]) for other in found]


def duplicate_groups(user, kind: str = "contact") -> list[dict]:
    """Groups of visible records sharing a phone, an e-mail or a name, largest first."""
    spec = spec_of(kind)
    visible = spec.model.objects.visible_to(user, "view")
    groups = []
    if kind == "contact":
        sources = (
            (
                str(_("Phone")),
                ContactPhone.objects.filter(contact__in=visible, verified=True),
                "normalized",
                "contact_id",
            ),
            (
                str(_("E-mail")),
                ContactEmail.objects.filter(contact__in=visible, verified=True),
                "normalized",
                "contact_id",
            ),
        )
    else:
        sources = (
            (str(_("Phone")), visible.exclude(phone="").annotate(key=Lower("phone")), "key", "pk"),
            (str(_("E-mail")), visible.exclude(email="").annotate(key=Lower("email")), "key", "pk"),
        )
    for label, rows, key, owner in sources:
        shared = (
            rows.values(key)
            .annotate(n=Count(owner, distinct=True))
            .filter(n__gt=1)
            .order_by("-n")[:LIMIT]
        )
        for row in shared:
            ids = rows.filter(**{key: row[key]}).values_list(owner, flat=True)
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
    records = {
        r.pk: r
        for r in spec.model.objects.filter(
            pk__in={i for g in groups for i in g["ids"]}
        ).select_related("responsible")
    }
    for group in groups:
        group["records"] = group["contacts"] = [records[i] for i in group["ids"] if i in records]
    groups.sort(key=lambda g: -len(g["ids"]))
    return groups


def _attr(spec: Spec, name: str) -> str:
    return f"{name}_id" if name in spec.foreign else name


def _fields(spec: Spec, record) -> dict:
    return {_attr(spec, name): getattr(record, _attr(spec, name)) for name in spec.fields}


def _conversations_of(kind: str, record_id: int) -> list[int]:
    return list(
        ConversationCrmLink.objects.filter(entity_type=kind, entity_id=record_id)
        .order_by("conversation_id")
        .values_list("conversation_id", flat=True)
    )


def _may_act_on_all(user, ids) -> bool:
    return Conversation.objects.visible_to(user, "act").filter(pk__in=ids).count() == len(set(ids))


def _refresh_search(record) -> None:
    refresh = getattr(record, "refresh_search", None)
    if refresh is not None:
        refresh()  # a contact's search text holds its phones and e-mails


def merge(user, kept_id: int, removed_id: int, choices: dict[str, str], kind: str = "contact"):
    """Merge record `removed_id` into `kept_id` (both of `kind`); `choices` maps each of the
    kind's fields to "kept" or "removed" (whose value the kept record takes; "kept" when not
    said). Returns the CrmMerge."""
    spec = spec_of(kind)
    if kept_id == removed_id:
        raise FieldErrors({"__all__": _("Choose two different records.")})
    with transaction.atomic():
        first, second = sorted([kept_id, removed_id])
        locked = {
            pk: record_for(user, spec.model.objects.select_for_update(), pk, "edit")
            for pk in (first, second)
        }
        kept, removed = locked[kept_id], locked[removed_id]
        conversation_ids = _conversations_of(kind, removed.pk)
        if not _may_act_on_all(user, conversation_ids):
            raise NotAllowed(CANNOT_MOVE)
        before = _fields(spec, kept)
        snapshot = {**_fields(spec, removed), "created_at": removed.created_at.isoformat()}
        for name in spec.fields:
            if choices.get(name) == "removed":
                setattr(kept, _attr(spec, name), getattr(removed, _attr(spec, name)))
        kept.save()
        moved: dict[str, list] = {}
        for name, model in spec.moved_by_key:
            known = set(model.objects.filter(contact=kept).values_list("normalized", flat=True))
            rows = list(model.objects.filter(contact=removed))
            moved[name] = [r.pk for r in rows if r.normalized not in known]
            moved[f"dropped_{name}"] = [
                {
                    "value": r.value,
                    "normalized": r.normalized,
                    "verified": r.verified,
                    "source_id": r.source_id,
                }
                for r in rows
                if r.normalized in known
            ]
            model.objects.filter(pk__in=moved[name]).update(contact=kept)
        for name, model, field in spec.moved_by_fk:
            moved[name] = list(
                model.objects.filter(**{field: removed}).values_list("pk", flat=True)
            )
            model.objects.filter(pk__in=moved[name]).update(**{field: kept})
        moved["activities"] = list(
            Activity.objects.filter(owner_type=kind, owner_id=removed.pk).values_list(
                "pk", flat=True
            )
        )
        Activity.objects.filter(pk__in=moved["activities"]).update(owner_id=kept.pk)
        moved["suggestions"] = list(
            MatchSuggestion.objects.filter(entity_type=kind, entity_id=removed.pk).values_list(
                "pk", flat=True
            )
        )
        MatchSuggestion.objects.filter(pk__in=moved["suggestions"]).update(entity_id=kept.pk)
        title = kept.display_title[:255]
        moved["links"], moved["dropped_links"] = [], []
        for link in ConversationCrmLink.objects.filter(entity_type=kind, entity_id=removed.pk):
            if ConversationCrmLink.objects.filter(
                conversation_id=link.conversation_id, entity_type=kind, entity_id=kept.pk
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
                        entity_type=kind,
                        entity_id=kept.pk,
                    ).update(is_primary=True)
            else:
                moved["links"].append(link.pk)
                link.entity_id, link.title = kept.pk, title
                link.save(update_fields=["entity_id", "title"])
        ConversationCrmLink.objects.filter(entity_type=kind, entity_id=kept.pk).update(title=title)
        at = timezone.now()
        record = CrmMerge.objects.create(
            entity_type=kind,
            **{spec.kept_field: kept},
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
        _refresh_search(kept)
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


def undo(user, merge_id: int, now=None):
    """Bring the removed record back (same id and fields) and move back what the merge moved;
    the kept record's merged fields return to what they were. Returns the restored record."""
    with transaction.atomic():
        merge_record = CrmMerge.objects.select_for_update().filter(pk=merge_id).first()
        if merge_record is None:
            raise NotFound(merge_id)
        kind = merge_record.entity_type
        spec = spec_of(kind)
        kept = record_for(
            user, spec.model.objects.select_for_update(), merge_record.kept_record_id, "edit"
        )
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
        data = dict(merge_record.removed)
        created_at = dt.datetime.fromisoformat(data.pop("created_at"))
        removed = spec.model(pk=merge_record.removed_id, **data)
        removed.save(force_insert=True)
        spec.model.objects.filter(pk=removed.pk).update(created_at=created_at)
        for name, value in merge_record.kept_before.items():
            setattr(kept, name, value)
        kept.save()
        for name, model in spec.moved_by_key:
            model.objects.filter(pk__in=moved.get(name, []), contact=kept).update(contact=removed)
            for row in moved.get(f"dropped_{name}", []):
                model.objects.create(contact=removed, **row)
        for name, model, field in spec.moved_by_fk:
            model.objects.filter(pk__in=moved.get(name, []), **{field: kept}).update(
                **{field: removed}
            )
        Activity.objects.filter(
            pk__in=moved.get("activities", []), owner_type=kind, owner_id=kept.pk
        ).update(owner_id=removed.pk)
        MatchSuggestion.objects.filter(pk__in=moved.get("suggestions", [])).update(
            entity_id=removed.pk
        )
        for link in links:
            if (link.entity_type, link.entity_id) == (kind, kept.pk):
                link.entity_id, link.title = removed.pk, removed.display_title[:255]
                link.save(update_fields=["entity_id", "title"])
        for row in moved.get("dropped_links", []):
            if row["is_primary"]:
                ConversationCrmLink.objects.filter(
                    conversation_id=row["conversation_id"], is_primary=True
                ).update(is_primary=False)
            ConversationCrmLink.objects.get_or_create(
                conversation_id=row["conversation_id"],
                entity_type=kind,
                entity_id=removed.pk,
                defaults={"title": row["title"], "is_primary": row["is_primary"]},
            )
        ConversationCrmLink.objects.filter(entity_type=kind, entity_id=kept.pk).update(
            title=kept.display_title[:255]
        )
        merge_record.undone_at = timezone.now()
        merge_record.save(update_fields=["undone_at"])
        record_event(kept, "merge_undone", user, {"merged": ref(removed)})
        record_event(removed, "merge_undone", user, {"merged": ref(removed), "from": ref(kept)})
        _refresh_search(removed)
        _refresh_search(kept)
        for conversation_id in conversation_ids:
            conversation_services.record_crm_change(
                conversation_id,
                conversation_services.Actor.of(user),
                "crm_merge_undone",
                {**ref(removed), "merged": ref(removed)},
            )
        return removed
