"""Bulk actions of the conversation list: close (with a close reason), mark as spam, transfer,
add or remove a tag.

A selection is explicit row ids or "all matching the filter". Conversations already closing or
closed (status 50 and above) are never closed, marked or transferred again: they are left out
and reported (tags go on closed conversations too). Every other row
goes through the services one by one, as its own transaction with its own event, so a refusal
on one row (IllegalTransition, NotAllowed, NotFound) is reported and the rest go on. Selections
larger than CONVODESK["BULK_BACKGROUND_ROWS"] (default 200) run as a background task.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from convodesk.fielderrors import FieldErrors
from convodesk.lines.models import CloseReason, Line

from . import services
from .filters import ConversationFilter, scope_tz
from .jobs import BulkJob, JobStatus
from .lifecycle import IllegalTransition, Status
from .models import Conversation, Tag
from .normalize import parse_id
from .services import Actor, NotAllowed, NotFound

log = logging.getLogger("convodesk.bulk")

ACTIONS = tuple(BulkJob.Action.values)
TAG_ACTIONS = (BulkJob.Action.TAG, BulkJob.Action.UNTAG)
NOT_SELECTABLE_FROM = Status.CLOSING  # closing and closed rows cannot be selected
MAX_EXPLICIT_IDS = 5000
PROGRESS_EVERY = 20


class InvalidBulk(FieldErrors, ValueError):
    """The request does not describe a bulk action; `errors` maps each field to a message."""


@dataclass
class Selection:
    ids: list[int]  # the rows to act on, in the list's order
    skipped: list[dict] = field(default_factory=list)  # explicit rows left out, with the reason
    skipped_count: int = 0  # every row left out (explicit or matching the filter)


def background_threshold() -> int:
    return int(settings.CONVODESK.get("BULK_BACKGROUND_ROWS", 200))


def transfer_lines():
    return Line.objects.filter(active=True).order_by("name")


def transfer_employees():
    return (
        get_user_model()
        .objects.filter(is_active=True, is_integration=False)
        .order_by("display_name", "username")
    )


def parse_target(action: str, value: str) -> tuple[Line | None, object | None]:
    """The transfer target from "line:<id>" or "employee:<id>"; (None, None) for other actions."""
    if action != BulkJob.Action.TRANSFER:
        return None, None
    kind, _sep, raw = (value or "").partition(":")
    pk = parse_id(raw)
    if pk is not None:
        if kind == "line":
            line = transfer_lines().filter(pk=pk).first()
            if line is not None:
                return line, None
        elif kind == "employee":
            employee = transfer_employees().filter(pk=pk).first()
            if employee is not None:
                return None, employee
    raise InvalidBulk({"transfer_to": _("Choose the open channel or the employee to transfer to.")})


def parse_choice(action: str, post) -> dict:
    """The tag to add or remove (its id), or the close reason to close with (its name: each open
    channel has its own list, so a selection over several closes each with its own "Solved")."""
    if action in TAG_ACTIONS:
        pk = parse_id(post.get("bulk_tag", ""))
        tag = Tag.objects.filter(pk=pk).first() if pk is not None and pk < 2**62 else None
        if tag is None:
            raise InvalidBulk({"bulk_tag": _("Choose the tag.")})
        if action == BulkJob.Action.TAG and tag.archived:
            raise InvalidBulk(
                {"bulk_tag": _("The tag “%(name)s” is archived.") % {"name": tag.name}}
            )
        return {"tag": tag.pk}
    if action == BulkJob.Action.CLOSE:
        name = (post.get("close_reason") or "").strip()[:100]
        return {"close_reason": name} if name else {}
    return {}


def close_reason_names() -> list[str]:
    """The names of every open channel's close reasons in use, for the bulk close."""
    names = CloseReason.objects.filter(archived=False).values_list("name", flat=True)
    return sorted(set(names), key=str.lower)


def parse_ids(values) -> list[int]:
    ids, seen = [], set()
    for raw in values:
        for part in str(raw).split(","):
            part = part.strip()
            if not part:
                continue
            pk = parse_id(part)
            if pk is None:
                raise InvalidBulk(
                    {"ids": _("“%(value)s” is not a conversation ID.") % {"value": part}}
                )
            if pk not in seen:
                seen.add(pk)
                ids.append(pk)
    if len(ids) > MAX_EXPLICIT_IDS:
        raise InvalidBulk(
            {
                "ids": _("Select at most %(max)s rows, or use “all matching the filter”.")
                % {"max": MAX_EXPLICIT_IDS}
            }
        )
    return ids


def _not_selectable_reason(status: int) -> str:
    if status == Status.CLOSING:
        return _("Already closing.")
    return _("Already closed.")


def select(
    user,
    *,
    ids=(),
    all_matching=False,
    params=None,
    target_line: Line | None = None,
    closed_too: bool = False,
) -> Selection:
    """Resolve what to act on. Rows the user cannot see are kept: the services answer NotFound.
    `closed_too`: closing and closed rows are acted on too (tags)."""
    visible = Conversation.objects.visible_to(user, "view")
    limit = 2**15 if closed_too else NOT_SELECTABLE_FROM
    if all_matching:
        flt = ConversationFilter(params or {}, tz=scope_tz(user))
        if not flt.is_valid():
            raise InvalidBulk(dict(flt.errors))
        matching = flt.filter(visible)
        selectable = matching.filter(status__lt=limit)
        if target_line is not None:
            selectable = selectable.exclude(line=target_line)
        chosen = list(selectable.order_by(*flt.ordering()).values_list("pk", flat=True))
        left_out = matching.order_by().count() - len(chosen)
        return Selection(chosen, [], left_out)
    if not ids:
        raise InvalidBulk({"ids": _("Select at least one conversation.")})
    known = {
        pk: (status, line_id)
        for pk, status, line_id in visible.filter(pk__in=ids).values_list("pk", "status", "line_id")
    }
    chosen, skipped = [], []
    for pk in ids:
        status, line_id = known.get(pk, (None, None))
        if status is not None and status >= limit:
            skipped.append({"id": pk, "reason": _not_selectable_reason(status)})
        elif target_line is not None and line_id == target_line.pk:
            skipped.append({"id": pk, "reason": _("Already in this open channel.")})
        else:
            chosen.append(pk)
    return Selection(chosen, skipped, len(skipped))


def act(
    user,
    action: str,
    conversation_id: int,
    *,
    target_line=None,
    target_employee=None,
    choice=None,
) -> None:
    actor = Actor.of(user)
    choice = choice or {}
    if action == BulkJob.Action.CLOSE:
        reason = None
        if choice.get("close_reason"):
            reason = _reason_named(conversation_id, choice["close_reason"])
        services.close(conversation_id, actor, reason=reason)
    elif action == BulkJob.Action.TAG:
        services.change_tags(conversation_id, actor, add=[choice["tag"]])
    elif action == BulkJob.Action.UNTAG:
        services.change_tags(conversation_id, actor, remove=[choice["tag"]])
    elif action == BulkJob.Action.SPAM:
        services.mark_spam(conversation_id, actor)
    elif action == BulkJob.Action.TRANSFER:
        services.transfer(conversation_id, actor, to_line=target_line, to_employee=target_employee)
    else:
        raise InvalidBulk({"action": _("Unknown action.")})


def _reason_named(conversation_id: int, name: str) -> int:
    line_id = Conversation.objects.filter(pk=conversation_id).values_list("line_id", flat=True)
    found = CloseReason.objects.filter(line_id__in=line_id, name=name, archived=False).first()
    if found is None:
        raise ValidationError(
            _("Its open channel has no close reason “%(name)s”.") % {"name": name}
        )
    return found.pk


def failure_reason(exc: Exception) -> str:
    if isinstance(exc, NotFound):
        return _("Not found, or not visible to you.")
    if isinstance(exc, ValidationError):
        return " ".join(str(m) for m in exc.messages)
    if isinstance(exc, NotAllowed | IllegalTransition):
        return str(exc.message)
    return _("Unexpected error; the administrators can find it in the log.")


def start_bulk(
    user,
    action: str,
    selection: Selection,
    *,
    target_line=None,
    target_employee=None,
    params=None,
    back_query: str = "",
    choice=None,
) -> BulkJob:
    """Record the job, then run it here (small) or enqueue it (above the threshold)."""
    if action not in ACTIONS:
        raise InvalidBulk({"action": _("Unknown action.")})
    if action == BulkJob.Action.TRANSFER and (target_line is None) == (target_employee is None):
        raise InvalidBulk(
            {"transfer_to": _("Choose the open channel or the employee to transfer to.")}
        )
    job = BulkJob.objects.create(
        owner=user,
        action=action,
        ids=selection.ids,
        total=len(selection.ids),
        skipped=selection.skipped,
        skipped_count=selection.skipped_count,
        target_line=target_line,
        target_employee=target_employee,
        params=params or {},
        back_query=back_query[:4000],
        choice=choice or {},
    )
    if len(selection.ids) > background_threshold():
        from .tasks import run_bulk

        run_bulk.enqueue(str(job.pk))
        job.refresh_from_db()
    else:
        run_bulk_job(job.pk)
        job.refresh_from_db()
    return job


def run_bulk_job(job_id) -> None:
    job = (
        BulkJob.objects.select_related("owner", "target_line", "target_employee")
        .filter(pk=job_id)
        .first()
    )
    if job is None or job.status != JobStatus.PENDING:
        return
    job.status, job.started_at = JobStatus.RUNNING, timezone.now()
    job.save(update_fields=["status", "started_at"])
    user = job.owner
    succeeded, failures, done = 0, [], 0
    try:
        with translation.override(user.language or settings.LANGUAGE_CODE):
            for done, conversation_id in enumerate(job.ids, start=1):
                try:
                    act(
                        user,
                        job.action,
                        conversation_id,
                        target_line=job.target_line,
                        target_employee=job.target_employee,
                        choice=job.choice,
                    )
                except (IllegalTransition, NotAllowed, NotFound, ValidationError) as exc:
                    failures.append({"id": conversation_id, "reason": failure_reason(exc)})
                except Exception as exc:  # noqa: BLE001 - one broken row must not stop the others
                    log.exception("bulk %s on conversation %s failed", job.action, conversation_id)
                    failures.append({"id": conversation_id, "reason": failure_reason(exc)})
                else:
                    succeeded += 1
                if done % PROGRESS_EVERY == 0:
                    BulkJob.objects.filter(pk=job.pk).update(
                        progress=done, succeeded=succeeded, failures=failures
                    )
    except Exception as exc:  # noqa: BLE001 - e.g. the database went away: the job says so
        log.exception("bulk job %s failed", job.pk)
        BulkJob.objects.filter(pk=job.pk).update(
            status=JobStatus.FAILED,
            progress=done,
            succeeded=succeeded,
            failures=failures,
            error=str(exc)[:2000] or exc.__class__.__name__,
            finished_at=timezone.now(),
        )
        return
    BulkJob.objects.filter(pk=job.pk).update(
        status=JobStatus.DONE,
        progress=len(job.ids),
        succeeded=succeeded,
        failures=failures,
        finished_at=timezone.now(),
    )
