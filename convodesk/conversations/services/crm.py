"""CRM writes that reach a conversation: binding a new one, re-linking, the history event.

`crm.binding` decides what a new conversation is bound to; `bind` writes that decision inside
the starting service's transaction. `write_links` and `ensure_activity` are also what the CRM's
own actions (re-binding, lead conversion) write through, and `record_crm_change` is the one place
a CRM change reaches a conversation's list columns and history.
"""

from __future__ import annotations

import datetime as dt

from convodesk.crm import binding
from convodesk.crm.models import (
    Activity,
    Contact,
    ContactEmail,
    ContactIdentity,
    ContactPhone,
    MatchSuggestion,
    fold,
)

from ..lifecycle import OPEN_BELOW
from ..models import Conversation, ConversationCrmLink
from ..normalize import normalize_email, normalize_phone
from .core import SYSTEM, Actor, batch, insert_linked, lock, now_or, record, unit

_KEEP = object()


def write_links(conversation_id: int, records: list, new: bool = False) -> None:
    """Replace the conversation's links (a new conversation has none): the first record is primary."""
    if not new:
        ConversationCrmLink.objects.filter(conversation_id=conversation_id).delete()
    ConversationCrmLink.objects.bulk_create(_links(conversation_id, records))


def _links(conversation_id: int, records: list) -> list[ConversationCrmLink]:
    rows, seen = [], set()
    for record_ in records:
        key = (record_.entity_type, record_.pk)
        if key in seen:
            continue
        seen.add(key)
        rows.append(
            ConversationCrmLink(
                conversation_id=conversation_id,
                entity_type=record_.entity_type,
                entity_id=record_.pk,
                title=record_.display_title[:255],
                is_primary=not rows,
            )
        )
    return rows


def ensure_activity(conversation, owner, new: bool = False) -> Activity:
    """The conversation's activity, made when it has none, owned by `owner`."""
    activity = None if new else Activity.objects.filter(conversation_id=conversation.pk).first()
    if activity is None:
        activity = _new_activity(conversation, owner)
        activity.save(force_insert=True)
    elif (activity.owner_type, activity.owner_id) != (owner.entity_type, owner.pk):
        activity.owner_type, activity.owner_id = owner.entity_type, owner.pk
        activity.save(update_fields=["owner_type", "owner_id"])
    return activity


def _keep_client_data(contact, data: binding.ClientData) -> None:
    """Write what a contact learns from its client: at most one statement per kind (identity,
    phone, e-mail), each row with its source (the connection) and verified or proposed."""
    if data.external_id:
        ContactIdentity.objects.bulk_create(
            [
                ContactIdentity(
                    contact=contact, connection_id=data.source_id, external_id=data.external_id
                )
            ],
            ignore_conflicts=True,  # already someone's: the first holder keeps it
        )
    for model, value in ((ContactPhone, data.phone), (ContactEmail, data.email)):
        if value:
            model.objects.bulk_create(
                [
                    model(
                        contact=contact,
                        value=value[0],
                        normalized=value[1],
                        verified=data.verified,
                        source_id=data.source_id,
                    )
                ]
            )


def _searchable(data: binding.ClientData) -> list[str]:
    """The words a contact's search text gains with `data` (Contact.search_parts' order)."""
    return [*(data.phone or ()), *(data.email[1:] if data.email else ())]


def _learn(data: binding.ClientData) -> None:
    """A matched contact learns the client's data (a manual bind's, `crm.actions.rebind`)."""
    contact = data.contact
    _keep_client_data(contact, data)
    words = _searchable(data)
    if words:
        contact.search = fold(" ".join([contact.search, *words]))
        Contact.objects.filter(pk=contact.pk).update(search=contact.search)


def _new_activity(conversation, owner) -> Activity:
    """The conversation's activity (not saved yet), owned by `owner`."""
    closed = conversation.status >= OPEN_BELOW
    return Activity(
        subject=binding.activity_subject(conversation)[:255],
        direction=Activity.Direction.OUTGOING
        if conversation.type == "outgoing"
        else Activity.Direction.INCOMING,
        start_at=conversation.started_at,
        end_at=conversation.closed_at if closed else None,
        responsible_id=conversation.responsible_id,
        completed=closed,
        conversation_id=conversation.pk,
        owner_type=owner.entity_type,
        owner_id=owner.pk,
    )


def _make(new):
    """Save the record a binding decided to make; return it."""
    if isinstance(new, binding.NewContact):
        contact = new.contact
        data = binding.ClientData(
            contact=contact,
            source_id=new.connection_id,
            external_id=new.external_id,
            verified=new.verified,
        )
        phone = normalize_phone(new.phone, new.country) if new.phone else ""
        if phone:
            data.phone = (new.phone.strip()[:64], phone)
        email = normalize_email(new.email) if new.email else ""
        if email:
            data.email = (new.email.strip()[:254], email)
        contact.pending_search = _searchable(data)  # searchable from its first row
        contact.save(force_insert=True)
        del contact.pending_search
        _keep_client_data(contact, data)
        return contact
    new.save(force_insert=True)
    return new


def bind(conversation: Conversation, decision: binding.Decision | None) -> None:
    """Write a new conversation's binding (inside the starting service's unit): the record made
    or matched, the links, the activity, the list columns and the `crm_bound` event."""
    if decision is None:
        return
    if decision.suggest is not None:
        MatchSuggestion.objects.create(
            conversation_id=conversation.pk,
            entity_type=decision.suggest.record.entity_type,
            entity_id=decision.suggest.record.pk,
            matched_by=decision.suggest.by,
        )
    if decision.learn is not None:
        _learn(decision.learn)
    records = list(decision.records)
    activity = None
    if isinstance(decision.new, binding.NewContact):
        records = [_make(decision.new)]
    elif decision.new is not None:  # a new lead and its activity, in one statement on PostgreSQL
        records = [decision.new]
        activity = _new_activity(conversation, decision.new)
        insert_linked(decision.new, (activity, "owner_id"))
    if not records:
        return
    primary = records[0]
    batch().insert(_links(conversation.pk, records))
    if activity is None:
        activity = ensure_activity(conversation, primary, new=True)
    payload = {
        **decision.payload,
        **({"learned": decision.learn.learned()} if decision.learn is not None else {}),
        "type": primary.entity_type,
        "id": primary.pk,
        "title": primary.display_title,
        "activity": activity.pk,
    }
    _set_columns(conversation, primary.entity_type, primary.pk, primary.display_title, activity.pk)
    record(
        conversation,
        "crm_bound",
        SYSTEM,
        conversation.started_at,
        conversation.status,
        payload,
    )


def _set_columns(conversation, entity_type, entity_id, title, activity_id, at=None) -> None:
    values = {
        "crm_entity_type": entity_type,
        "crm_entity_id": entity_id,
        "crm_title": title[:255],
        "crm_activity_id": activity_id,
    }
    if at is not None:
        values["updated_at"] = max(conversation.updated_at, at)
    for name, value in values.items():
        setattr(conversation, name, value)
    batch().touch(conversation, values)


def record_crm_change(
    conversation,
    actor: Actor,
    kind: str,
    payload: dict | None = None,
    *,
    activity_id=_KEEP,
    at: dt.datetime | None = None,
):
    """A change of the conversation's CRM records (re-binding, lead conversion), after the caller
    has written its link rows: lock the row, copy the primary link onto the list columns, record
    the event and publish it after commit. `conversation` is a conversation or its id; a
    conversation object passed in gets the new column values too."""
    at = now_or(at)
    conversation_id = getattr(conversation, "pk", conversation)
    with unit():
        row = lock(conversation_id)
        link = ConversationCrmLink.objects.filter(
            conversation_id=conversation_id, is_primary=True
        ).first()
        _set_columns(
            row,
            link.entity_type if link else "",
            link.entity_id if link else None,
            link.title if link else "",
            row.crm_activity_id if activity_id is _KEEP else activity_id,
            at,
        )
        if isinstance(conversation, Conversation) and conversation is not row:
            for name in ("crm_entity_type", "crm_entity_id", "crm_title", "crm_activity_id"):
                setattr(conversation, name, getattr(row, name))
            conversation.updated_at = row.updated_at
        return record(row, kind, actor, at, from_status=row.status, payload=payload)
