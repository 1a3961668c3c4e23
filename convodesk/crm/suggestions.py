"""Possible matches from contact data a client typed in (issue 15, item 7).

`binding.decide_new_conversation` suggests them and the services store them (`MatchSuggestion`)
instead of binding; here the card lists them and an employee confirms one. Confirming is a re-binding (`actions.rebind`):
it needs the right to act on the conversation and to edit the suggested record, and it moves
the client's channel identity to the contact, so their next conversation binds there by itself.
Only suggestions whose conversation and record the viewer may see are ever shown or accepted;
any other answers like a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from convodesk.conversations.models import Conversation
from convodesk.conversations.services import NotFound

from . import actions
from .models import MODELS, MatchSuggestion
from .visibility import can


@dataclass(frozen=True)
class Shown:
    suggestion: MatchSuggestion
    record: object  # the suggested contact or lead
    conversation_id: int
    can_confirm: bool


def for_conversations(user, conversation_ids) -> list[Shown]:
    """The suggestions for these conversations (already visible to `user`) whose record
    `user` may see, oldest conversation first."""
    rows = list(
        MatchSuggestion.objects.filter(conversation_id__in=list(conversation_ids)).order_by(
            "conversation_id", "id"
        )
    )
    if not rows:
        return []
    records = {}
    for kind in {r.entity_type for r in rows}:
        ids = [r.entity_id for r in rows if r.entity_type == kind]
        for record in MODELS[kind].objects.visible_to(user, "view").filter(pk__in=ids):
            records[(kind, record.pk)] = record
    actable = set(
        Conversation.objects.visible_to(user, "act")
        .filter(pk__in=[r.conversation_id for r in rows])
        .values_list("pk", flat=True)
    )
    shown = []
    for row in rows:
        record = records.get((row.entity_type, row.entity_id))
        if record is None:
            continue
        shown.append(
            Shown(
                row,
                record,
                row.conversation_id,
                row.conversation_id in actable and can(user, record, "edit"),
            )
        )
    return shown


def confirm(suggestion_id: int, user):
    """Bind the suggestion's conversation to its record; the conversation's other suggestions
    are settled with it. Returns the record."""
    row = MatchSuggestion.objects.filter(pk=suggestion_id).first()
    if row is None or not (
        Conversation.objects.visible_to(user, "view").filter(pk=row.conversation_id).exists()
    ):
        raise NotFound(suggestion_id)
    record = MODELS[row.entity_type].objects.visible_to(user, "view").filter(pk=row.entity_id)
    if not record.exists():
        raise NotFound(suggestion_id)
    with transaction.atomic():
        actions.rebind(row.conversation_id, user, row.entity_type, row.entity_id)
        MatchSuggestion.objects.filter(conversation_id=row.conversation_id).delete()
    return record.get()
