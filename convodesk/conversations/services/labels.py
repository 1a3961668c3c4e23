"""Tags and close reasons (issue 19 item 3): what an employee puts on a conversation.

Changing the tags writes the tag links, the row's `tag_ids` and one `tags_changed` event, and
moves the conversation's statistics from its old tags to its new ones (stats.rollups.LabelRollup).
The close reason is chosen when closing (`operator.close`); `choose_close_reason` checks it.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from convodesk.lines.models import CloseReason
from convodesk.stats import rollups

from ..models import Conversation, ConversationTag, Tag
from .core import Actor, batch, load_for, now_or, record, unit

MAX_ID = 2**62  # a larger number is no row's id (and overflows the database's integers)


def _ids(ids, field: str) -> list[int]:
    wanted = sorted({int(i) for i in ids})
    for i in wanted:
        if not 0 < i < MAX_ID:
            raise ValidationError({field: _("Unknown tag %(id)s.") % {"id": i}})
    return wanted


def _tags(ids, *, field: str) -> list[Tag]:
    wanted = _ids(ids, field)
    found = {t.pk: t for t in Tag.objects.filter(pk__in=wanted)}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise ValidationError({field: _("Unknown tag %(id)s.") % {"id": missing[0]}})
    return [found[i] for i in wanted]


def change_tags(
    conversation_id: int,
    actor: Actor,
    *,
    add=(),
    remove=(),
    replace=None,
    now=None,
) -> Conversation:
    """Add and remove tags (or `replace` them all). Archived tags stay where they are but cannot
    be added. Records `tags_changed` with the names added and removed; nothing when unchanged."""
    at = now_or(now)
    with unit():
        conversation = load_for(actor, conversation_id)
        current = {int(i) for i in conversation.tag_ids or ()}
        if replace is not None:
            wanted = {t.pk for t in _tags(replace, field="tags")}
        else:
            adding = {t.pk for t in _tags(add, field="add")}
            removing = set(_ids(remove, "remove"))
            wanted = (current | adding) - removing
        added, removed = sorted(wanted - current), sorted(current - wanted)
        if not added and not removed:
            return conversation
        names = dict(Tag.objects.filter(pk__in=added + removed).values_list("pk", "name"))
        archived = Tag.objects.filter(pk__in=added, archived=True).values_list("name", flat=True)
        if archived:
            raise ValidationError(
                {"tags": _("The tag “%(name)s” is archived.") % {"name": archived[0]}}
            )
        if removed:
            ConversationTag.objects.filter(
                conversation_id=conversation.pk, tag_id__in=removed
            ).delete()
        if added:
            ConversationTag.objects.bulk_create(
                ConversationTag(
                    conversation_id=conversation.pk,
                    tag_id=tag_id,
                    started_at=conversation.started_at,
                    added_at=at,
                    added_by=actor.user,
                )
                for tag_id in added
            )
        before = rollups.of_conversation(conversation)
        conversation.tag_ids = sorted(wanted)
        conversation.updated_at = at
        current_batch = batch()
        current_batch.touch(conversation, ["tag_ids", "updated_at"])
        current_batch.deltas.move(before, rollups.of_conversation(conversation))
        record(
            conversation,
            "tags_changed",
            actor,
            at,
            conversation.status,
            {
                "added": [{"id": i, "name": names.get(i, "")} for i in added],
                "removed": [{"id": i, "name": names.get(i, "")} for i in removed],
            },
        )
        return conversation


def choose_close_reason(conversation: Conversation, reason_id) -> CloseReason | None:
    """The close reason for closing this conversation: one of its open channel's own, not
    archived; required when the open channel says so. Raises ValidationError (a 422, a form
    error) naming `close_reason`."""
    line = conversation.line
    if reason_id in (None, ""):
        if line.close_reason_required:
            raise ValidationError(
                {"close_reason": _("Choose a close reason: this open channel requires one.")}
            )
        return None
    try:
        number = int(reason_id)
    except (TypeError, ValueError):
        number = None
    if number is not None and not 0 < number < MAX_ID:
        number = None
    reason = (
        CloseReason.objects.filter(pk=number, line_id=line.pk, archived=False).first()
        if number is not None
        else None
    )
    if reason is None:
        raise ValidationError(
            {"close_reason": _("This is not one of the open channel's close reasons.")}
        )
    return reason


def set_close_reason(conversation: Conversation, reason: CloseReason, actor: Actor, at) -> None:
    """Put the chosen reason on a locked conversation being closed, moving its statistics."""
    before = rollups.of_conversation(conversation)
    conversation.close_reason = reason
    current_batch = batch()
    current_batch.touch(conversation, ["close_reason"])
    current_batch.deltas.move(before, rollups.of_conversation(conversation))


def change_close_reason(conversation_id: int, actor: Actor, reason_id, now=None) -> Conversation:
    """Correct the close reason of a conversation already closed (a supervisor's afterthought,
    the demo's history): one of its open channel's reasons. Records `close_reason_changed`."""
    at = now_or(now)
    with unit():
        conversation = load_for(actor, conversation_id)
        if conversation.is_open:
            raise ValidationError(
                {"close_reason": _("The conversation is still open: close it with a reason.")}
            )
        reason = choose_close_reason(conversation, reason_id)
        if reason is None or reason.pk == conversation.close_reason_id:
            return conversation
        set_close_reason(conversation, reason, actor, at)
        record(
            conversation,
            "close_reason_changed",
            actor,
            at,
            conversation.status,
            {"close_reason": reason.name},
        )
        return conversation
