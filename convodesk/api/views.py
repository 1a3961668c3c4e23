"""The employee's own API tokens (create, shown once; revoke), and JSON 404s under /api/v1/."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from convodesk.conversations.normalize import parse_id

from . import tokens as tokens_service
from .errors import respond
from .models import ApiToken

NEW_TOKEN_KEY = "convodesk_new_api_token"


def api_not_found(request, rest=""):
    return respond(404, "not_found", _("No such API endpoint."))


@login_required
@require_http_methods(["GET", "POST"])
def tokens(request):
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "create":
            name = request.POST.get("name", "").strip()[:100] or _("Personal token")
            _token, plain = tokens_service.issue(request.user, request.user, name)
            # Post/redirect/get: a reload never creates a second token; the value is shown once.
            request.session[NEW_TOKEN_KEY] = plain
            messages.success(request, _("Token created. Copy it now: it is shown only this once."))
            return redirect("api_tokens")
        if action == "revoke":
            token_id = parse_id(request.POST.get("token", ""), max_digits=17)
            token = (
                ApiToken.objects.filter(user=request.user, pk=token_id).first()
                if token_id is not None
                else None
            )
            if token is None:
                messages.error(request, _("No such token."))
            else:
                tokens_service.revoke(request.user, token)
                messages.success(request, _("Token revoked."))
            return redirect("api_tokens")
        messages.error(request, _("Unknown action."))
        return redirect("api_tokens")
    new_token = request.session.pop(NEW_TOKEN_KEY, None)
    context = {
        "tokens": ApiToken.objects.filter(user=request.user).order_by("-created_at", "-id"),
        "new_token": new_token,
    }
    response = render(request, "api/tokens.html", context)
    if new_token:
        response["Cache-Control"] = "no-store"
    return response
