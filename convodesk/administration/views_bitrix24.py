"""Bitrix24 compatibility settings: incoming-webhook codes (shown once, revocable) and the
outbound event handlers (OnImConnectorMessageAdd, OnOpenLineSessionFinish), next to the
connections' signed webhooks. Writes go through convodesk.bitrix24.codes (audited)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from convodesk.accounts.models import User
from convodesk.bitrix24 import codes
from convodesk.bitrix24.models import Connector, ConnectorLine, EventHandler, WebhookCode
from convodesk.fielderrors import FieldErrors

from .access import settings_required
from .forms_bitrix24 import EventHandlerForm, WebhookCodeForm
from .forms_people import add_service_errors

SECTION = "administration:bitrix24"
LIMIT = 200


def _render(request, template, context, status=200):
    context["section"] = SECTION
    return render(request, f"administration/bitrix24/{template}", context, status=status)


def _base_url(request) -> str:
    return request.build_absolute_uri(reverse("bitrix24:unknown", kwargs={"rest": ""}))


@require_GET
@settings_required
def overview(request):
    codes_rows = WebhookCode.objects.select_related("user").order_by("-created_at", "-id")[:LIMIT]
    handlers = EventHandler.objects.select_related("connector").order_by("event", "id")
    connectors = Connector.objects.order_by("code")
    lines = ConnectorLine.objects.select_related("line", "connection").order_by("line__name")
    by_connector = {}
    for row in lines:
        by_connector.setdefault(row.connector_id, []).append(row)
    for connector in connectors:
        connector.active_lines = by_connector.get(connector.pk, [])
    return _render(
        request,
        "overview.html",
        {
            "codes": codes_rows,
            "handlers": handlers,
            "connectors": connectors,
            "base_url": _base_url(request),
        },
    )


@require_http_methods(["GET", "POST"])
@settings_required
def code_create(request):
    form = WebhookCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        owner = User.objects.filter(pk=form.cleaned_data["user"], is_active=True).first()
        try:
            code, plain = codes.issue(request.user, owner, form.cleaned_data["name"])
        except FieldErrors as exc:
            add_service_errors(form, exc.errors)
        else:
            url = f"{_base_url(request)}{code.user_id}/{plain}/"
            context = {
                "code": code,
                "url": url,
                "host": request.get_host(),
                "token": f"{code.user_id}/{plain}",
            }
            return _render(request, "code_created.html", context)
    status = 400 if form.errors else 200
    return _render(request, "code_form.html", {"form": form}, status)


@require_POST
@settings_required
def code_revoke(request, pk):
    code = get_object_or_404(WebhookCode, pk=pk)
    if codes.revoke(request.user, code):
        messages.success(request, _("The code %(prefix)s… is revoked.") % {"prefix": code.prefix})
    return redirect("administration:bitrix24")


def _connector(form) -> Connector | None:
    pk = form.cleaned_data.get("connector")
    return Connector.objects.filter(pk=pk).first() if pk else None


@require_http_methods(["GET", "POST"])
@settings_required
def handler_create(request):
    form = EventHandlerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            handler, token = codes.create_handler(
                request.user, data["event"], data["handler_url"], _connector(form)
            )
            if not data["active"]:
                codes.update_handler(request.user, handler, active=False)
        except FieldErrors as exc:
            add_service_errors(form, exc.errors)
        else:
            return _render(request, "handler_token.html", {"handler": handler, "token": token})
    status = 400 if form.errors else 200
    return _render(request, "handler_form.html", {"form": form, "handler": None}, status)


@require_http_methods(["GET", "POST"])
@settings_required
def handler_edit(request, pk):
    handler = get_object_or_404(EventHandler, pk=pk)
    initial = {
        "event": handler.event,
        "handler_url": handler.handler_url,
        "connector": handler.connector_id,
        "active": handler.active,
    }
    form = EventHandlerForm(request.POST or None, initial=initial, editing=True)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            codes.update_handler(
                request.user,
                handler,
                handler_url=data["handler_url"],
                active=data["active"],
                connector=_connector(form),
            )
        except FieldErrors as exc:
            add_service_errors(form, exc.errors)
        else:
            messages.success(request, _("The handler is saved."))
            return redirect("administration:bitrix24")
    status = 400 if form.errors else 200
    context = {"form": form, "handler": handler}
    return _render(request, "handler_form.html", context, status)


@require_POST
@settings_required
def handler_rotate(request, pk):
    handler = get_object_or_404(EventHandler, pk=pk)
    token = codes.rotate_token(request.user, handler)
    return _render(request, "handler_token.html", {"handler": handler, "token": token})


@require_POST
@settings_required
def handler_delete(request, pk):
    handler = get_object_or_404(EventHandler, pk=pk)
    codes.delete_handler(request.user, handler)
    messages.success(request, _("The handler is deleted."))
    return redirect(reverse("administration:bitrix24"))
