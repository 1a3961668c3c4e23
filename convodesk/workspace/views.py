"""The operator workspace (*Contact center › My chats*): queue, transcript, client.

Every action goes through the services with `Actor.of(user)`; a refusal (someone else took it a
moment ago, it was closed, the role does not allow it) comes back as a message in the page and
refreshed panes, never as a 500. The browser swaps the returned parts by id (workspace.js).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from convodesk.accounts.models import User
from convodesk.conversations import outbox, services, uploads
from convodesk.conversations.columns import crm_url
from convodesk.conversations.lifecycle import IllegalTransition, Status
from convodesk.conversations.models import ConversationParticipant
from convodesk.conversations.normalize import parse_id
from convodesk.conversations.services import Actor, NotAllowed, NotFound
from convodesk.lines.models import Line

from . import presence, queries

MAX_REPLY = 10_000


def _context(request, conv=None, flash=None, flash_level="info"):
    user = request.user
    context = {
        "queue": list(queries.queue(user)),
        "mine": list(queries.mine(user)),
        "conv": conv,
        "flash": flash,
        "flash_level": flash_level,
    }
    if conv is not None:
        queries.mark_read(user, conv)
        context.update(
            transcript=queries.transcript(conv),
            past=list(queries.past(user, conv)),
            crm_url=crm_url(conv.crm_entity_type, conv.crm_entity_id) if conv.crm_entity_id else "",
            quick_replies=queries.quick_replies(conv, user),
            offered_to_me=conv.participants.filter(employee=user, offered_now=True).exists(),
            mine_now=conv.responsible_id == user.pk,
            can_act=conv.is_open,
            in_queue=conv.status < Status.TAKEN,
            before_closing=conv.status < Status.CLOSING,
            upload_max_bytes=uploads.max_bytes(),
            upload_accept=uploads.accept_attribute(),
            **queries.labels(conv),
        )
    return context


def _parts(request, conv=None, flash=None, level="info", status=200, composer=False, panes="all"):
    context = _context(request, conv, flash, level)
    context["with_composer"] = composer
    context["panes"] = panes
    html = render_to_string("workspace/_parts.html", context, request=request)
    return HttpResponse(html, status=status)


@login_required
@require_GET
def workspace(request):
    conv = None
    flash = None
    selected = request.GET.get("c", "")
    if selected:
        pk = parse_id(selected, max_digits=15)
        conv = queries.conversation(request.user, pk) if pk is not None else None
        if conv is None:
            flash = _("This conversation was not found.")
    context = _context(request, conv, flash, "error" if flash else "info")
    context["last_event"] = outbox.latest_id()
    context["transfer_employees"] = User.objects.filter(
        is_active=True, is_integration=False
    ).order_by("display_name", "username")
    context["transfer_lines"] = Line.objects.filter(active=True).order_by("name")
    return render(request, "workspace/workspace.html", context)


@login_required
@require_GET
def list_pane(request):
    return _parts(request, panes="list")


@login_required
@require_GET
def conversation_pane(request, pk: int):
    conv = queries.conversation(request.user, pk)
    if conv is None:
        return _parts(
            request,
            flash=_("This conversation is no longer available to you."),
            level="error",
            status=404,
        )
    return _parts(request, conv, composer=request.GET.get("part") != "live")


def _actor(request) -> Actor:
    return Actor.of(request.user)


def _run(request, pk: int, call, done: str):
    """Run one service call and answer with the refreshed parts and a clear message."""
    try:
        call()
    except NotFound:
        if ConversationParticipant.objects.filter(
            conversation_id=pk, employee=request.user, ever_offered=True
        ).exists():
            text = _("Another employee has already taken this conversation.")
        else:
            text = _("This conversation is no longer available to you.")
        return _parts(request, flash=text, level="error", status=404)
    except NotAllowed as error:
        conv = queries.conversation(request.user, pk)
        return _parts(request, conv, flash=str(error.message), level="error", status=403)
    except IllegalTransition as error:
        conv = queries.conversation(request.user, pk)
        return _parts(request, conv, flash=str(error.message), level="error", status=409)
    except ValidationError as error:  # a close reason missing, an archived tag
        conv = queries.conversation(request.user, pk)
        text = " ".join(str(m) for m in error.messages)
        return _parts(request, conv, flash=text, level="error", status=400)
    except uploads.UploadRefused as refusal:  # a file too large, of a type not accepted
        conv = queries.conversation(request.user, pk)
        return _parts(request, conv, flash=refusal.message, level="error", status=400)
    conv = queries.conversation(request.user, pk)
    if conv is None:  # e.g. transferred away: no longer visible to me
        return _parts(request, flash=done)
    return _parts(request, conv, flash=done)


@login_required
def action(request, pk: int, name: str):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    actor = _actor(request)
    simple = {
        "take": (lambda: services.take(pk, actor), _("You took the conversation.")),
        "skip": (lambda: services.skip(pk, actor), _("You skipped the conversation.")),
        "close": (
            lambda: services.close(pk, actor, reason=request.POST.get("close_reason") or None),
            _("The conversation is closed."),
        ),
        "tags": (
            lambda: services.change_tags(pk, actor, replace=_tag_ids(request)),
            _("Tags saved."),
        ),
        "spam": (lambda: services.mark_spam(pk, actor), _("The conversation is marked as spam.")),
        "pin": (lambda: services.pin(pk, actor, True), _("The conversation is pinned.")),
        "unpin": (lambda: services.pin(pk, actor, False), _("The conversation is unpinned.")),
    }
    if name in simple:
        call, done = simple[name]
        return _run(request, pk, call, done)
    if name == "reply":
        return _reply(request, pk, actor)
    if name == "transfer":
        return _transfer(request, pk, actor)
    conv = queries.conversation(request.user, pk)
    return _parts(request, conv, flash=_("Unknown action."), level="error", status=404)


def _reply(request, pk: int, actor: Actor):
    """A reply to the client, or with `note` a private note, with the composer's files
    (`services.write_with_files` stores them and removes them again if the message is refused)."""
    text = request.POST.get("text", "")
    note = request.POST.get("note") == "1"
    if len(text) > MAX_REPLY:
        conv = queries.conversation(request.user, pk)
        return _parts(request, conv, flash=_("The message is too long."), level="error", status=400)
    if queries.conversation(request.user, pk) is None:  # store nothing for a hidden one

        def hidden():
            raise NotFound(pk)

        return _run(request, pk, hidden, "")
    files = request.FILES.getlist("files")
    return _run(
        request, pk, lambda: services.write_with_files(pk, actor, text, files, note=note), ""
    )


def _tag_ids(request) -> list[int]:
    ids = (parse_id(v) for v in request.POST.getlist("tag"))
    return [i for i in ids if i is not None and i < 2**62][:100]


def _transfer(request, pk: int, actor: Actor):
    employee_id = parse_id(request.POST.get("employee", ""))
    line_id = parse_id(request.POST.get("line", ""))
    comment = request.POST.get("comment", "")[:1000]
    employee = line = None
    if employee_id is not None:
        employee = User.objects.filter(pk=employee_id, is_active=True, is_integration=False).first()
    if line_id is not None:
        line = Line.objects.filter(pk=line_id, active=True).first()
    if (employee is None) == (line is None):
        conv = queries.conversation(request.user, pk)
        return _parts(
            request,
            conv,
            flash=_("Choose one employee or one open channel."),
            level="error",
            status=400,
        )
    target = employee.name if employee else line.name
    return _run(
        request,
        pk,
        lambda: services.transfer(pk, actor, to_employee=employee, to_line=line, comment=comment),
        _("The conversation was transferred to %(target)s.") % {"target": target},
    )


@login_required
@require_POST
def availability(request):
    status = request.POST.get("status", "")
    if status not in User.Availability.values:
        return _parts(
            request, flash=_("Choose online or away."), level="error", status=400, panes="list"
        )
    presence.choose(request.user.pk, status)
    request.user.refresh_from_db(fields=["availability"])
    label = User.Availability(status).label
    return _parts(request, flash=_("You are now %(status)s.") % {"status": label}, panes="list")
