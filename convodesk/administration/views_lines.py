"""Open channels in the settings: list, create, edit, deactivate (and activate again).

Every write goes through `convodesk.lines.services`, the same functions the API calls, so the
rules and the audit log are the same whichever way a change comes in."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from convodesk.accounts.models import User
from convodesk.conversations.lifecycle import OPEN_BELOW, Status
from convodesk.conversations.models import Conversation
from convodesk.conversations.normalize import clean_text
from convodesk.lines import services
from convodesk.lines.models import Line

from . import labels
from .access import settings_required
from .forms_lines import LineForm

SECTION = "administration:lines"
SEARCH_LIMIT = 10


@require_GET
@settings_required
def line_list(request):
    lines = Line.objects.annotate(
        members_count=Count("memberships", distinct=True),
        connections_count=Count("connections", distinct=True),
    ).order_by("-active", "name")
    return render(request, "administration/lines/list.html", {"lines": lines, "section": SECTION})


def _form_page(request, form: LineForm, line: Line | None):
    return render(
        request,
        "administration/lines/form.html",
        {"form": form, "line": line, "section": SECTION},
    )


@require_http_methods(["GET", "POST"])
@settings_required
def line_create(request):
    form = LineForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                line = services.create_line(request.user, **form.changes())
                labels.save_close_reasons(request.user, line, {}, form.close_reason_changes()[1])
        except (services.LineInvalid, labels.Invalid) as exc:
            form.refuse(exc.errors)
        else:
            messages.success(request, _("Open channel “%(name)s” created.") % {"name": line.name})
            return redirect("administration:line_edit", pk=line.pk)
    return _form_page(request, form, None)


@require_http_methods(["GET", "POST"])
@settings_required
def line_edit(request, pk: int):
    line = get_object_or_404(Line, pk=pk)
    form = LineForm(request.POST if request.method == "POST" else None, line=line)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():  # the open channel and its close reasons, or neither
                line = services.update_line(request.user, line, **form.changes())
                labels.save_close_reasons(request.user, line, *form.close_reason_changes())
        except (services.LineInvalid, labels.Invalid) as exc:
            form.refuse(exc.errors)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("administration:line_edit", pk=line.pk)
    return _form_page(request, form, line)


def waiting_count(line: Line) -> int:
    """Not yet taken by anyone (offered or not)."""
    return Conversation.objects.filter(line=line, status__lt=Status.TAKEN).count()


@require_http_methods(["GET", "POST"])
@settings_required
def line_deactivate(request, pk: int):
    line = get_object_or_404(Line, pk=pk)
    if request.method == "POST":
        services.deactivate_line(request.user, line)
        messages.success(request, _("Open channel “%(name)s” deactivated.") % {"name": line.name})
        return redirect("administration:lines")
    context = {
        "line": line,
        "waiting": waiting_count(line),
        "open": Conversation.objects.filter(line=line, status__lt=OPEN_BELOW).count(),
        "connections": line.connections.order_by("name"),
        "section": SECTION,
    }
    return render(request, "administration/lines/deactivate.html", context)


@require_POST
@settings_required
def line_activate(request, pk: int):
    line = get_object_or_404(Line, pk=pk)
    services.update_line(request.user, line, active=True)
    messages.success(request, _("Open channel “%(name)s” is active again.") % {"name": line.name})
    return redirect("administration:line_edit", pk=line.pk)


@require_GET
@settings_required
def member_search(request):
    """Search as you type (htmx): active employees whose name, username or e-mail match."""
    query = clean_text(request.GET.get("q", ""), 100)
    found = User.objects.none()
    if query:
        found = (
            User.objects.filter(is_active=True, is_integration=False)
            .filter(
                Q(display_name__icontains=query)
                | Q(first_name__icontains=query)
                | Q(last_name__icontains=query)
                | Q(username__icontains=query)
                | Q(email__icontains=query)
            )
            .order_by("display_name", "username")[:SEARCH_LIMIT]
        )
    return render(
        request, "administration/lines/member_results.html", {"found": found, "query": query}
    )
