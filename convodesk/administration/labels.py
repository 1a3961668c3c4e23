"""The one writer of tags and close reasons in settings (issue 19 item 3), each change with its
audit entry in the same transaction. Tags and reasons are archived, never deleted: conversations
and statistics keep naming them."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from convodesk.audit import log as audit
from convodesk.conversations.models import Tag
from convodesk.conversations.normalize import clean_text
from convodesk.fielderrors import FieldErrors
from convodesk.lines.models import CloseReason, Line

TAG_FIELDS = {"name", "colour", "archived"}
REASON_FIELDS = {"line", "name", "position", "archived"}
MAX_REASON = 100


class Invalid(FieldErrors):
    """A tag or close reason refused; `errors` maps each field to why."""


def _tag_errors(tag: Tag | None, name: str, colour: str) -> dict[str, str]:
    errors = {}
    if not name:
        errors["name"] = _("A name is required.")
    elif len(name) > 60:
        errors["name"] = _("At most 60 characters.")
    elif Tag.objects.filter(name__iexact=name).exclude(pk=getattr(tag, "pk", None)).exists():
        errors["name"] = _("Another tag has this name.")
    if colour not in Tag.Colour.values:
        errors["colour"] = _("Choose one of the colours.")
    return errors


def save_tag(actor, tag: Tag | None, *, name: str, colour: str, archived: bool = False) -> Tag:
    """Create (tag None) or change a tag: rename, recolour, archive or restore."""
    name = clean_text(name or "", 200).strip()
    errors = _tag_errors(tag, name, colour)
    if errors:
        raise Invalid(errors)
    with transaction.atomic():
        if tag is None:
            tag = Tag.objects.create(name=name, colour=colour, archived=bool(archived))
            audit.record(actor, "create", tag, after=audit.snapshot(tag, fields=TAG_FIELDS))
            return tag
        tag = Tag.objects.select_for_update().get(pk=tag.pk)
        before = audit.snapshot(tag, fields=TAG_FIELDS)
        tag.name, tag.colour, tag.archived = name, colour, bool(archived)
        tag.save()
        after = audit.snapshot(tag, fields=TAG_FIELDS)
        if after != before:
            audit.record(actor, "update", tag, before=before, after=after)
    return tag


def save_close_reasons(actor, line: Line, existing: dict[int, tuple[str, bool]], new: list[str]):
    """The open channel's close reasons as its settings screen posts them: {id: (name,
    archived)} for the ones it has (renamed, archived or restored) and names to add."""
    errors: dict[str, str] = {}
    reasons = {r.pk: r for r in CloseReason.objects.filter(line=line)}
    names = {}
    for pk, (name, _archived) in existing.items():
        if pk not in reasons:
            errors[f"reason_{pk}"] = _("Unknown close reason.")
            continue
        name = clean_text(name or "", MAX_REASON * 2).strip()
        if not name or len(name) > MAX_REASON:
            errors[f"reason_{pk}"] = _("A name of 1 to %(n)s characters.") % {"n": MAX_REASON}
        names[pk] = name
    added = [clean_text(n, MAX_REASON * 2).strip() for n in new]
    added = [n for n in added if n]
    for name in added:
        if len(name) > MAX_REASON:
            errors["new_reasons"] = _("At most %(n)s characters each.") % {"n": MAX_REASON}
    taken = [
        n.lower()
        for n in [
            *names.values(),
            *(r.name for pk, r in reasons.items() if pk not in names),
            *added,
        ]
    ]
    if len(taken) != len(set(taken)):
        errors["new_reasons"] = _("Two close reasons have the same name.")
    if errors:
        raise Invalid(errors)
    with transaction.atomic():
        for pk, (_name, archived) in existing.items():
            reason = reasons[pk]
            before = audit.snapshot(reason, fields=REASON_FIELDS)
            reason.name, reason.archived = names[pk], bool(archived)
            after = audit.snapshot(reason, fields=REASON_FIELDS)
            if after != before:
                reason.save()
                audit.record(actor, "update", reason, before=before, after=after)
        position = max((r.position for r in reasons.values()), default=0)
        for name in added:
            position += 1
            reason = CloseReason.objects.create(line=line, name=name, position=position)
            audit.record(
                actor, "create", reason, after=audit.snapshot(reason, fields=REASON_FIELDS)
            )
