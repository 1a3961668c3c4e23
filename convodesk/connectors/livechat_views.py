"""The widget's script (`/widget/<public key>.js`) and the demo company page (`/widget/demo/`)."""

from __future__ import annotations

import json

from django.http import HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.utils import translation
from django.utils.html import _json_script_escapes
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_safe

from convodesk.lines.models import Connection

from .livechat import option, widget_connection


def _connection(key: str) -> Connection | None:
    return widget_connection(key)


def widget_config(request, connection: Connection) -> dict:
    """What the widget script needs, in the connection's language when it has one, else in the
    visitor's (the request's)."""
    language = option(connection, "language")
    if language:
        with translation.override(language):
            return _widget_config(request, connection, language)
    return _widget_config(request, connection, translation.get_language())


def _widget_config(request, connection: Connection, language: str) -> dict:
    scheme = "wss" if request.is_secure() else "ws"
    return {
        "key": connection.public_key,
        "socket": f"{scheme}://{request.get_host()}/ws/widget/{connection.public_key}/",
        "stylesheet": request.build_absolute_uri(static("convodesk/widget.css")),
        "title": option(connection, "title") or connection.line.name,
        "color": option(connection, "color"),
        "maxLength": option(connection, "max_length"),
        "greeting": option(connection, "greeting"),
        "position": option(connection, "position"),
        "language": language,
        "fields": {name: option(connection, f"ask_{name}") for name in ("name", "email", "phone")},
        "texts": {
            "open": _("Open the chat"),
            "close": _("Close the chat"),
            "welcome": _("Hello! Write to us and an operator will answer here."),
            "placeholder": _("Write a message…"),
            "send": _("Send"),
            "name": _("Your name"),
            "email": _("E-mail"),
            "phone": _("Phone"),
            "optional": _("optional"),
            "typing": _("%(name)s is typing…"),
            "operator": _("Operator"),
            "you": _("You"),
            "waiting": _("Waiting for an operator…"),
            "answered": _("You are chatting with %(name)s"),
            "closed": _("The conversation is closed."),
            "rate": _("How was this conversation?"),
            "like": _("Good"),
            "dislike": _("Bad"),
            "thanks": _("Thank you for your rating!"),
            "offline": _("Connecting…"),
            "messages": _("Messages"),
        },
    }


@require_safe  # HEAD answers like GET (uptime checks and caches ask with HEAD)
def widget_script(request, key):
    connection = _connection(key)
    if connection is None:
        body = "console.error(%s);" % json.dumps("Convodesk: unknown or inactive chat key")
        response = HttpResponse(
            body, status=404, content_type="application/javascript; charset=utf-8"
        )
    else:
        config = json.dumps(widget_config(request, connection)).translate(_json_script_escapes)
        body = render_to_string("connectors/widget.js", {"config": config})
        response = HttpResponse(body, content_type="application/javascript; charset=utf-8")
        response["Cache-Control"] = "public, max-age=300"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_GET
def demo(request):
    """The demo company page with a live chat: `?key=` picks the connection (the settings link
    here to preview theirs), else the first active one."""
    key = request.GET.get("key", "")
    connection = (
        _connection(key)
        if key
        else Connection.objects.select_related("line")
        .filter(kind=Connection.Kind.LIVECHAT, active=True, line__active=True)
        .order_by("id")
        .first()
    )
    status = 200 if connection is not None else 404
    return render(request, "connectors/demo.html", {"connection": connection}, status=status)
