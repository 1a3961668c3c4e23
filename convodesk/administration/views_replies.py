"""Quick replies (shared and personal) and API tokens (list, create shown once, revoke).

Writes go through `convodesk.workspace.quick_replies` and `convodesk.api.tokens`, which record
each change in the audit log; a new integration account is made by `accounts.services`.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from convodesk.accounts import services as people
from convodesk.api import tokens
from convodesk.api.models import ApiToken
from convodesk.conversations.normalize import clean_text
from convodesk.workspace import quick_replies as replies
from convodesk.workspace.models import QuickReply

from .access import settings_required
from .forms_people import add_service_errors
from .forms_replies import ApiTokenForm, QuickReplyForm

PAGE_SIZE = 50


def _render(request, template, context, section, status=200):
    context["section"] = f"administration:{section}"
    return render(request, f"administration/replies/{template}", context, status=status)


# Quick replies -------------------------------------------------------------------------


@require_GET
@settings_required
def quick_replies(request):
    q = clean_text(request.GET.get("q", ""), 100)
    kind = clean_text(request.GET.get("kind", ""), 20)
    rows = QuickReply.objects.select_related("line", "owner")
    if q:
        rows = rows.filter(Q(title__icontains=q) | Q(shortcut__icontains=q) | Q(text__icontains=q))
    if kind == "shared":
        rows = rows.filter(owner__isnull=True)
    elif kind == "personal":
        rows = rows.filter(owner__isnull=False)
    rows = rows.order_by("owner_id", "position", "id")
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return _render(
        request, "quick_replies.html", {"page": page, "q": q, "kind": kind}, "quick_replies"
    )


@require_http_methods(["GET", "POST"])
@settings_required
def quick_reply_form(request, pk=None):
    reply = get_object_or_404(QuickReply, pk=pk) if pk is not None else None
    initial = (
        {
            "title": reply.title,
            "shortcut": reply.shortcut,
            "text": reply.text,
            "line": reply.line_id,
            "owner": reply.owner_id,
        }
        if reply
        else {}
    )
    form = QuickReplyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if reply is None:
                replies.create(request.user, **data)
            else:
                replies.update(request.user, reply, **data)
        except replies.Invalid as exc:
            add_service_errors(form, exc.errors)
        else:
            messages.success(request, _("Quick reply %(title)s saved.") % {"title": data["title"]})
            return redirect("administration:quick_replies")
    status = 400 if form.errors else 200
    return _render(
        request, "quick_reply_form.html", {"form": form, "reply": reply}, "quick_replies", status
    )


@require_POST
@settings_required
def quick_reply_delete(request, pk):
    reply = get_object_or_404(QuickReply, pk=pk)
    replies.delete(request.user, reply)
    messages.success(request, _("Quick reply %(title)s deleted.") % {"title": reply.title})
    return redirect("administration:quick_replies")


# API tokens ----------------------------------------------------------------------------


@require_GET
@settings_required
def api_tokens(request):
    rows = ApiToken.objects.select_related("user").order_by("-created_at", "-id")
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return _render(request, "api_tokens.html", {"page": page}, "api_tokens")


@require_http_methods(["GET", "POST"])
@settings_required
def api_token_create(request):
    form = ApiTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        owner = None
        if data["owner"]:
            owner = people.User.objects.filter(
                pk=data["owner"], is_integration=True, is_active=True
            ).first()
            if owner is None:
                form.add_error("owner", _("Unknown integration account."))
        else:
            try:
                owner = people.create_employee(
                    request.user,
                    username=data["new_integration"],
                    roles=[data["role"]] if data["role"] else [],
                    is_integration=True,
                )
            except people.Invalid as exc:
                add_service_errors(form, exc.errors, aliases={"username": "new_integration"})
        if owner is not None and not form.errors:
            token, plain = tokens.issue(request.user, owner, data["name"])
            context = {"token": token, "plain": plain}
            return _render(request, "api_token_created.html", context, "api_tokens")
    status = 400 if form.errors else 200
    return _render(request, "api_token_form.html", {"form": form}, "api_tokens", status)


@require_POST
@settings_required
def api_token_revoke(request, pk):
    token = get_object_or_404(ApiToken, pk=pk)
    if tokens.revoke(request.user, token):
        messages.success(request, _("The token %(prefix)s… is revoked.") % {"prefix": token.prefix})
    return redirect("administration:api_tokens")
