"""Row actions: every write goes through the services, every refusal is shown, never a 500."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from convodesk.lines.models import Connection

from .. import lifecycle, services, visibility
from ..columns import COLUMNS
from ..lifecycle import IllegalTransition
from ..models import ClientIdentity, Conversation
from ..services import Actor, NotAllowed, NotFound
from .params import clean_text
from .prefs import safe_next, user_column_keys
from .rows import allowed_ids, load_row, rate_editor, row_texts


def _respond(request, pk: int, level: str, text: str):
    """htmx: the refreshed row plus a toast; otherwise a message and back to the list."""
    if request.htmx:
        keys = user_column_keys(request.user)
        row = load_row(request.user, pk, keys)
        html = render_to_string(
            "conversations/_row_response.html",
            {
                "row": row,
                "columns": [COLUMNS[k] for k in keys],
                "toast_level": level,
                "toast": text,
                "pk": pk,
                "t": row_texts(),
                "colspan": len(keys) + 2,
            },
            request=request,
        )
        return HttpResponse(html)
    getattr(messages, level)(request, text)
    return HttpResponseRedirect(safe_next(request))


def _run(request, pk: int, call, done: str):
    try:
        call(pk, Actor.of(request.user))
    except NotFound:
        raise Http404 from None
    except NotAllowed as exc:
        return _respond(request, pk, "error", str(exc.message))
    except IllegalTransition as exc:
        return _respond(request, pk, "error", str(exc.message))
    return _respond(request, pk, "success", done)


def _visible_or_404(user, pk: int) -> Conversation:
    try:
        return visibility.access(user, pk)
    except NotFound:
        raise Http404 from None


@login_required
@require_POST
def end_conversation(request, pk: int):
    _visible_or_404(request.user, pk)
    return _run(request, pk, services.close, _("Conversation #%(id)s ended.") % {"id": pk})


@login_required
@require_POST
def spam_conversation(request, pk: int):
    _visible_or_404(request.user, pk)
    return _run(
        request, pk, services.mark_spam, _("Conversation #%(id)s marked as spam.") % {"id": pk}
    )


@login_required
@require_http_methods(["GET", "POST"])
def rate_conversation(request, pk: int):
    conv = _visible_or_404(request.user, pk)
    if pk not in allowed_ids(request.user, "rate", [pk]):
        if request.method == "POST":
            return _respond(
                request, pk, "error", _("You are not allowed to rate this conversation.")
            )
        raise Http404
    error = ""
    if request.method == "GET" and request.htmx:
        # The grid's rating popover loads its editor when it is opened (rows.rate_summary).
        return HttpResponse(rate_editor(conv))
    if request.method == "POST":
        # The inline editor names its fields per row (they share the grid's form); the page uses plain names.
        raw = request.POST.get(f"rating-{pk}", request.POST.get("rating", ""))
        comment = clean_text(
            request.POST.get(f"comment-{pk}", request.POST.get("comment", "")), 2000
        )
        if request.POST.get("clear"):
            raw, comment = "", ""
        if raw not in ("", "1", "2", "3", "4", "5"):
            error = _("Choose from 1 to 5 stars.")
        else:
            rating = int(raw) if raw else None

            def call(conv_id, actor):
                return services.supervisor_rate(conv_id, actor, rating, comment)

            if request.htmx:
                return _run(request, pk, call, _("Rating saved for #%(id)s.") % {"id": pk})
            try:
                call(pk, Actor.of(request.user))
            except NotFound:
                raise Http404 from None
            except (NotAllowed, IllegalTransition) as exc:
                error = str(exc.message)
            else:
                messages.success(request, _("Rating saved for #%(id)s.") % {"id": pk})
                return HttpResponseRedirect(safe_next(request))
        if request.htmx:
            return _respond(request, pk, "error", error)
    return render(
        request,
        "conversations/rate.html",
        {"conv": conv, "error": error, "next": safe_next(request)},
        status=422 if error else 200,
    )


def outgoing_identities(conv: Conversation) -> list[ClientIdentity]:
    """The client's identities on connections of the row's open channel that can start a conversation."""
    identities = (
        ClientIdentity.objects.filter(
            client_id=conv.client_id, connection__line_id=conv.line_id, connection__active=True
        )
        .select_related("connection")
        .order_by("connection__name", "id")
    )
    usable = [i for i in identities if i.connection.allows_outgoing]
    usable.sort(key=lambda i: i.connection_id != conv.connection_id)
    return usable


@login_required
@require_http_methods(["GET", "POST"])
def start_conversation(request, pk: int):
    """Join the client's open conversation if there is one; otherwise start an outgoing one."""
    conv = (
        Conversation.objects.visible_to(request.user, "act")
        .select_related("client", "line", "connection")
        .filter(pk=pk)
        .first()
    )
    if conv is None:
        raise Http404
    open_conv = (
        Conversation.objects.filter(
            client_id=conv.client_id,
            connection_id=conv.connection_id,
            status__lt=lifecycle.OPEN_BELOW,
        )
        .select_related("responsible")
        .order_by("-started_at")
        .first()
    )
    open_visible = (
        open_conv is not None
        and Conversation.objects.visible_to(request.user, "view").filter(pk=open_conv.pk).exists()
    )
    can_join = (
        open_conv is not None
        and Conversation.objects.visible_to(request.user, "act").filter(pk=open_conv.pk).exists()
    )
    identities = [] if open_conv else outgoing_identities(conv)
    error, text = "", ""
    if request.method == "POST" and open_conv is not None and can_join:
        try:
            services.join(open_conv.pk, Actor.of(request.user))
        except (NotAllowed, IllegalTransition) as exc:
            error = str(exc.message)
        except services.NotFound:
            raise Http404 from None
        else:
            messages.success(
                request,
                _("You joined conversation #%(id)s; its responsible employee is unchanged.")
                % {"id": open_conv.pk},
            )
            return HttpResponseRedirect(f"{reverse('workspace:workspace')}?c={open_conv.pk}")
    if request.method == "POST" and open_conv is None:
        text = clean_text(request.POST.get("text", ""), 10000)
        chosen = next(
            (i for i in identities if str(i.pk) == request.POST.get("identity", "")), None
        )
        if chosen is None:
            error = _("Choose a channel that can start a conversation.")
        else:
            try:
                new = services.start_outgoing(Actor.of(request.user), chosen, text)
            except (NotAllowed, IllegalTransition) as exc:
                error = str(exc.message)
            else:
                messages.success(request, _("Conversation #%(id)s started.") % {"id": new.pk})
                return HttpResponseRedirect(f"{reverse('conversations:list')}?id={new.pk}")
    status = 422 if error else 200
    return render(
        request,
        "conversations/start.html",
        {
            "conv": conv,
            "open_conv": open_conv,
            "open_visible": open_visible,
            "can_join": can_join,
            "identities": identities,
            "error": error,
            "text": text,
            "refused": open_conv is None and not identities,
            "connections": Connection.objects.filter(line_id=conv.line_id).order_by("name"),
        },
        status=status,
    )
