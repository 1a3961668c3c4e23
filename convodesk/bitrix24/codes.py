"""The one writer of webhook codes and outbound event handlers (the settings screen calls these):
each change recorded in the audit log, never a code's or an application token's value."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from convodesk import outbound
from convodesk.audit import log as audit
from convodesk.conversations.attachments import safe_url
from convodesk.fielderrors import FieldErrors

from .models import EventHandler, WebhookCode

CODE_FIELDS = {"user", "name", "prefix", "created_at", "revoked_at"}
HANDLER_FIELDS = {"event", "handler_url", "connector", "active"}


def issue(actor, owner, name: str = "") -> tuple[WebhookCode, str]:
    """A new code for `owner` (an active employee or integration account), shown once."""
    if owner is None or not owner.is_active:
        raise FieldErrors({"user": _("Choose an active employee.")})
    with transaction.atomic():
        code, plain = WebhookCode.issue(owner, (name or "").strip())
        audit.record(actor, "create", code, after=audit.snapshot(code, fields=CODE_FIELDS))
    return code, plain


def revoke(actor, code: WebhookCode) -> bool:
    """Revoke once; False if it already was. Scripts using it get 401 at once."""
    with transaction.atomic():
        code = WebhookCode.objects.select_for_update().get(pk=code.pk)
        if code.revoked_at is not None:
            return False
        before = audit.snapshot(code, fields=CODE_FIELDS)
        code.revoked_at = timezone.now()
        code.save(update_fields=["revoked_at"])
        audit.record(
            actor, "deactivate", code, before=before, after=audit.snapshot(code, fields=CODE_FIELDS)
        )
    return True


def check_url(url) -> str:
    clean = safe_url(url if isinstance(url, str) else "")
    try:
        parts = urlsplit(clean)
        parts.port  # noqa: B018 - raises on an invalid port
    except ValueError:
        parts = None
    if not clean or parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise FieldErrors({"handler_url": _("Enter an http(s) URL.")})
    if refused := outbound.check_destination(clean):
        raise FieldErrors({"handler_url": refused})
    return clean


def create_handler(actor, event: str, handler_url: str, connector=None) -> tuple[EventHandler, str]:
    """A new handler and its application token (shown once; sent with every event)."""
    if event not in EventHandler.Event.values:
        raise FieldErrors({"event": _("Unknown event.")})
    handler = EventHandler(event=event, handler_url=check_url(handler_url), connector=connector)
    token = handler.new_token()
    with transaction.atomic():
        handler.save()
        audit.record(actor, "create", handler, after=audit.snapshot(handler, fields=HANDLER_FIELDS))
    return handler, token


def update_handler(actor, handler: EventHandler, *, handler_url=None, active=None, connector=False):
    before = audit.snapshot(handler, fields=HANDLER_FIELDS)
    if handler_url is not None:
        handler.handler_url = check_url(handler_url)
    if active is not None:
        handler.active = bool(active)
    if connector is not False:
        handler.connector = connector
    with transaction.atomic():
        handler.save()
        after = audit.snapshot(handler, fields=HANDLER_FIELDS)
        if after != before:
            audit.record(actor, "update", handler, before=before, after=after)
    return handler


def rotate_token(actor, handler: EventHandler) -> str:
    with transaction.atomic():
        token = handler.new_token()
        handler.save(update_fields=["token_encrypted"])
        audit.record(actor, "rotate_secret", handler, {}, {})
    return token


def delete_handler(actor, handler: EventHandler) -> None:
    with transaction.atomic():
        audit.record(
            actor, "delete", handler, before=audit.snapshot(handler, fields=HANDLER_FIELDS)
        )
        handler.delete()
