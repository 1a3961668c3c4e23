"""Settings → Connections: the list, a guided form per kind, the delivery log and skipped items.

Every write goes through the connection service (connectors/setup.py), the same one the API
calls: it checks, encrypts secrets, asks Telegram or the mail servers, saves and records the
change in the audit log. These views only collect what was typed and show what came back.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.contrib import messages
from django.core.files.storage import default_storage
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from convodesk import crypto
from convodesk.connectors import delivery, setup, telegram
from convodesk.conversations.models import Message
from convodesk.lines.models import Connection, Line

from .access import settings_required
from .forms_connections import FORMS

SECTION = "administration:connections"
SECRET_KEY = "administration:connection_secret"
LOG_SIZE = 25
KINDS = [
    (
        Connection.Kind.LIVECHAT,
        gettext_lazy("Website chat"),
        gettext_lazy(
            "A chat window on your website. You get the script tag to paste into your pages; "
            "only the websites you list may show it."
        ),
    ),
    (
        Connection.Kind.TELEGRAM,
        gettext_lazy("Telegram"),
        gettext_lazy(
            "Clients write to your Telegram bot. The token is checked with Telegram (getMe) and "
            "the webhook is registered for you."
        ),
    ),
    (
        Connection.Kind.EMAIL,
        gettext_lazy("E-mail"),
        gettext_lazy(
            "A support mailbox. Test connection logs in to your IMAP and SMTP servers and shows "
            "what each one answers."
        ),
    ),
    (
        Connection.Kind.API,
        gettext_lazy("API"),
        gettext_lazy(
            "Your own system posts clients' messages over HTTPS and receives the replies on a "
            "signed webhook."
        ),
    ),
]
KIND_LABEL = {kind: label for kind, label, _help in KINDS}


def public_base(request) -> str:
    return (settings.CONVODESK.get("PUBLIC_URL") or request.build_absolute_uri("/")).rstrip("/")


def _connection(pk: int) -> Connection:
    connection = (
        Connection.objects.select_related("line").filter(pk=pk).first() if pk < 2**62 else None
    )
    if connection is None:
        raise Http404(_("No such connection."))
    return connection


def _summary(connection: Connection) -> str:
    """One line about the connection's state, from what it already keeps."""
    config = connection.config or {}
    if connection.kind == Connection.Kind.TELEGRAM:
        bot = config.get("bot") or {}
        return f"@{bot['username']}" if bot.get("username") else _("No bot checked yet")
    if connection.kind == Connection.Kind.EMAIL:
        return config.get("address") or ""
    if connection.kind == Connection.Kind.LIVECHAT:
        count = len(connection.allowed_origins or [])
        if not count:
            return _("This installation's pages only")
        return ngettext("%(n)s website allowed", "%(n)s websites allowed", count) % {"n": count}
    url = crypto.mask_url(config.get("webhook_url"))
    return url or _("No webhook: replies are read through the API")


@require_GET
@settings_required
def connection_list(request):
    connections = Connection.objects.select_related("line").order_by("line__name", "name", "id")
    rows = [
        {"c": c, "label": KIND_LABEL.get(c.kind, c.kind), "summary": _summary(c)}
        for c in connections
    ]
    return render(
        request,
        "administration/connections/list.html",
        {"rows": rows, "section": SECTION},
    )


@require_GET
@settings_required
def connection_new(request):
    return render(
        request,
        "administration/connections/new.html",
        {"kinds": KINDS, "section": SECTION},
    )


def _kind_context(request, kind: str, form, connection: Connection | None, **extra) -> dict:
    return {
        "form": form,
        "kind": kind,
        "kind_label": KIND_LABEL.get(kind, kind),
        "kind_help": next((h for k, _label, h in KINDS if k == kind), ""),
        "connection": connection,
        "public_url": settings.CONVODESK.get("PUBLIC_URL", ""),
        "section": SECTION,
        **extra,
    }


def _checks(request, form, connection: Connection | None) -> dict:
    """The *Test connection* (e-mail) and *Check token* (Telegram) actions: nothing is saved."""
    action = request.POST.get("action")
    current = connection.config if connection is not None else None
    form.is_valid()
    for name in ("name", "line", "active"):  # not needed to try the servers; asked on save
        form.errors.pop(name, None)
    if form.errors:
        return {}
    if action == "test" and form.kind == Connection.Kind.EMAIL:
        result = setup.test_mailbox(form.changes(), current=current)
        form.place_errors(result.errors)
        form.set_folders(result.folders)
        sides = []
        for side in ("imap", "smtp"):
            errors = [v for k, v in result.errors.items() if k.startswith(f"config.{side}")]
            sides.append((side.upper(), result.answers.get(side, ""), " ".join(errors)))
        return {"mail_test": result, "mail_sides": sides}
    if action == "check" and form.kind == Connection.Kind.TELEGRAM:
        changes = {**form.changes(), "mode": "polling"}  # getMe only: no webhook yet
        try:
            config = setup.prepare("telegram", changes, current=current)
        except setup.ConnectionInvalid as exc:
            form.place_errors({k: v for k, v in exc.errors.items() if k != "config.mode"})
            return {}
        return {"checked_bot": config.get("bot") or {}}
    return {}


@require_http_methods(["GET", "POST"])
@settings_required
def connection_create(request, kind):
    form_class = FORMS.get(kind)
    if form_class is None:
        raise Http404(_("No such kind of connection."))
    extra = {}
    if request.method == "POST":
        form = form_class(request.POST)
        if request.POST.get("action") in ("test", "check"):
            extra = _checks(request, form, None)
        elif form.is_valid():
            try:
                connection, secret = setup.create_connection(
                    form.cleaned_data["line"],
                    kind,
                    form.cleaned_data["name"],
                    form.changes(),
                    active=form.cleaned_data.get("active", False),
                    allowed_origins=form.cleaned_data.get("allowed_origins"),
                    actor=request.user,
                )
            except setup.ConnectionInvalid as exc:
                form.place_errors(exc.errors)
            else:
                if kind == Connection.Kind.API:
                    request.session[SECRET_KEY] = {"id": connection.pk, "secret": secret}
                messages.success(
                    request, _("Connection “%(name)s” created.") % {"name": connection.name}
                )
                return redirect("administration:connection", pk=connection.pk)
    else:
        lines = Line.objects.filter(active=True).order_by("id").values_list("id", flat=True)[:2]
        only = lines[0] if len(lines) == 1 else None
        form = form_class(initial={"line": request.GET.get("line") or only})
    return render(
        request,
        "administration/connections/form.html",
        _kind_context(request, kind, form, None, **extra),
    )


@require_GET
@settings_required
def bot_picture(request, digest):
    """A Telegram bot's picture, kept when its token was checked (connectors.telegram.bot_picture):
    served from the product, so the token in Telegram's download address never reaches a browser."""
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise Http404(_("No such picture."))
    name = f"{telegram.BOT_PICTURE_DIR}/{digest}"
    if not default_storage.exists(name):
        raise Http404(_("No such picture."))
    with default_storage.open(name, "rb") as stored:
        content = stored.read(telegram.BOT_PICTURE_BYTES + 1)
    kind = telegram.image_type(content)
    if kind is None or len(content) > telegram.BOT_PICTURE_BYTES:
        raise Http404(_("No such picture."))
    response = HttpResponse(content, content_type=kind)
    response["Cache-Control"] = "private, max-age=86400, immutable"
    return response


@require_http_methods(["GET", "POST"])
@settings_required
def connection_detail(request, pk):
    connection = _connection(pk)
    form_class = FORMS[connection.kind]
    extra = {}
    if request.method == "POST":
        form = form_class(request.POST, connection=connection)
        if request.POST.get("action") in ("test", "check"):
            extra = _checks(request, form, connection)
        elif form.is_valid():
            try:
                setup.update_connection(
                    connection,
                    name=form.cleaned_data["name"],
                    config=form.changes(),
                    active=form.cleaned_data.get("active", False),
                    allowed_origins=form.cleaned_data.get("allowed_origins"),
                    actor=request.user,
                )
            except setup.ConnectionInvalid as exc:
                connection.refresh_from_db()
                form.place_errors(exc.errors)
            else:
                messages.success(request, _("Changes saved."))
                return redirect("administration:connection", pk=connection.pk)
    else:
        form = form_class(connection=connection)
    shown = request.session.pop(SECRET_KEY, None)
    secret = shown["secret"] if shown and shown.get("id") == connection.pk else None
    extra.update(_extras(request, connection), secret=secret)
    context = _kind_context(request, connection.kind, form, connection, **extra)
    response = render(request, "administration/connections/form.html", context)
    if secret:
        response["Cache-Control"] = "no-store"
    return response


def _extras(request, connection: Connection) -> dict:
    """What the saved connection's page shows besides its form."""
    base = public_base(request)
    config = connection.config or {}
    data = {
        "deliveries": list(
            Message.objects.filter(conversation__connection=connection)
            .exclude(delivery_state="")
            .select_related("conversation")
            .order_by("-id")[:LOG_SIZE]
        ),
        "skipped": list(connection.skipped_messages.all()[:LOG_SIZE]),
        "retryable": (Message.Delivery.PENDING, Message.Delivery.FAILED),
    }
    if connection.kind == Connection.Kind.LIVECHAT:
        script = base + reverse("livechat:script", args=[connection.public_key])
        data["snippet"] = f'<script src="{script}" async></script>'
        data["csp_line"] = (
            f"script-src {base}; style-src {base}; connect-src {base} "
            f"{base.replace('https://', 'wss://').replace('http://', 'ws://')}"
        )
        data["preview_url"] = reverse("livechat:demo") + f"?key={connection.public_key}"
        data["preview_title"] = config.get("title") or connection.line.name
    elif connection.kind == Connection.Kind.TELEGRAM:
        data["bot"] = config.get("bot") or {}
        data["last_update_at"] = parse_datetime(str(config.get("last_update_at") or ""))
        if settings.CONVODESK.get("PUBLIC_URL"):
            data["webhook_url"] = telegram.webhook_url(connection)
    elif connection.kind == Connection.Kind.EMAIL:
        data["mail_state"] = config.get("state") or {}
    elif connection.kind == Connection.Kind.API:
        data["ingest_url"] = base + reverse("api-v1:post_message", args=[connection.pk])
        data["curl"] = (
            f"curl -X POST {data['ingest_url']} \\\n"
            f'  -H "Authorization: Bearer <secret>" \\\n'
            f"  -H 'Content-Type: application/json' \\\n"
            f'  -d \'{{"external_message_id": "msg-1", "client": {{"external_id": "cust-42", '
            f'"name": "Dana"}}, "text": "Where is my order?"}}\''
        )
    return data


@require_POST
@settings_required
def connection_rotate(request, pk):
    connection = _connection(pk)
    try:
        secret = setup.rotate_secret(connection, actor=request.user)
    except setup.ConnectionInvalid as exc:
        messages.error(request, " ".join(str(m) for m in exc.errors.values()))
        return redirect("administration:connection", pk=connection.pk)
    request.session[SECRET_KEY] = {"id": connection.pk, "secret": secret}
    messages.success(request, _("A new secret was made; the old one no longer works."))
    return redirect("administration:connection", pk=connection.pk)


@require_POST
@settings_required
def connection_retry(request, pk, message_id):
    connection = _connection(pk)
    message = (
        Message.objects.select_related("conversation__connection")
        .filter(pk=message_id, conversation__connection=connection)
        .first()
        if message_id < 2**62
        else None
    )
    retryable = message is not None and message.delivery_state in (
        Message.Delivery.PENDING,
        Message.Delivery.FAILED,
    )
    if retryable and delivery.queue(message.conversation, message):
        messages.success(request, _("Delivery queued again."))
    else:
        messages.error(request, _("This message is not waiting for delivery."))
    return redirect(reverse("administration:connection", args=[connection.pk]) + "#deliveries")
