"""The one writer of quick replies (settings screens), and their placeholders.

A quick reply is shared (no owner) or one employee's own, for one open channel or for all.
`{client_name}` and `{employee_name}` in its text are replaced when it is offered in the
composer, so the operator sees (and can still edit) the final words before sending.
"""

from __future__ import annotations

import re

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from convodesk.accounts.models import User
from convodesk.audit import log as audit
from convodesk.fielderrors import FieldErrors
from convodesk.lines.models import Line

from .models import QuickReply

MAX_TEXT = 5000
SHORTCUT = re.compile(r"^[-a-zA-Z0-9_]{1,30}$")
FIELDS = {"title", "text", "shortcut", "line", "owner"}
UNSET = object()


class Invalid(FieldErrors):
    """A quick reply refused; `errors` maps each field to why."""


def fill(text: str, *, client_name: str = "", employee_name: str = "") -> str:
    """The text with its placeholders replaced; any other braces are left as typed."""
    return text.replace("{client_name}", client_name or "").replace(
        "{employee_name}", employee_name or ""
    )


def offered(user, line_id) -> list[QuickReply]:
    """The replies an employee is offered in a conversation of this channel: shared and their
    own, for this channel or for all; shared first, then by order."""
    return list(
        QuickReply.objects.filter(Q(line_id=line_id) | Q(line__isnull=True))
        .filter(Q(owner__isnull=True) | Q(owner_id=getattr(user, "pk", None)))
        .order_by("owner_id", "position", "id")
    )


def _state(reply: QuickReply) -> dict:
    return audit.snapshot(reply, fields=FIELDS | {"position"})


def _check(reply: QuickReply | None, data: dict) -> dict[str, str]:
    errors = {}
    if "title" in data:
        title = (data["title"] or "").strip()
        if not title:
            errors["title"] = _("A title is required.")
        elif len(title) > 80:
            errors["title"] = _("At most 80 characters.")
    if "text" in data:
        if not (data["text"] or "").strip():
            errors["text"] = _("A text is required.")
        elif len(data["text"]) > MAX_TEXT:
            errors["text"] = _("At most %(n)s characters.") % {"n": MAX_TEXT}
    owner_id = data.get("owner", getattr(reply, "owner_id", None))
    if (
        data.get("owner") is not None
        and not User.objects.filter(pk=data["owner"], is_integration=False).exists()
    ):
        errors["owner"] = _("Unknown employee.")
    if data.get("line") is not None and not Line.objects.filter(pk=data["line"]).exists():
        errors["line"] = _("Unknown open channel.")
    shortcut = data.get("shortcut")
    if shortcut:
        if not SHORTCUT.match(shortcut):
            errors["shortcut"] = _("Letters, digits, - and _ only, at most 30.")
        elif (
            QuickReply.objects.filter(shortcut=shortcut, owner_id=owner_id)
            .exclude(pk=getattr(reply, "pk", None))
            .exists()
        ):
            errors["shortcut"] = _("Another quick reply of the same owner has this shortcut.")
    return errors


def _ids(data: dict) -> dict:
    out = dict(data)
    for key in ("line", "owner"):
        if hasattr(out.get(key), "pk"):
            out[key] = out[key].pk
    return out


def create(actor, *, title: str, text: str, shortcut: str = "", line=None, owner=None):
    data = _ids({"title": title, "text": text, "shortcut": shortcut, "line": line, "owner": owner})
    errors = _check(None, data)
    if errors:
        raise Invalid(errors)
    with transaction.atomic():
        reply = QuickReply.objects.create(
            title=data["title"].strip(),
            text=data["text"],
            shortcut=data["shortcut"] or "",
            line_id=data["line"],
            owner_id=data["owner"],
        )
        audit.record(actor, "create", reply, after=_state(reply))
    return reply


def update(actor, reply: QuickReply, **changes) -> QuickReply:
    unknown = set(changes) - FIELDS
    if unknown:
        raise TypeError(f"unknown quick reply fields: {sorted(unknown)}")
    data = _ids(changes)
    errors = _check(reply, data)
    if errors:
        raise Invalid(errors)
    with transaction.atomic():
        reply = QuickReply.objects.select_for_update().get(pk=reply.pk)
        before = _state(reply)
        for key, value in data.items():
            if key in ("line", "owner"):
                setattr(reply, f"{key}_id", value)
            else:
                setattr(reply, key, value.strip() if key == "title" else (value or ""))
        reply.save()
        after = _state(reply)
        if after != before:
            audit.record(actor, "update", reply, before=before, after=after)
    return reply


def delete(actor, reply: QuickReply) -> None:
    with transaction.atomic():
        before = _state(reply)
        audit.record(actor, "delete", reply, before=before)
        reply.delete()
