"""Bitrix24 compatibility: incoming-webhook codes, custom connectors and outbound events.

A webhook code is what the seed product puts in `/rest/{user_id}/{code}/`: stored hashed like
API tokens, shown once, revocable; a request with it acts as its employee (visibility and the
CRM scope as for that employee). A custom connector (`imconnector.register`) is active on an
open channel through an api connection of ours (`imconnector.activate`). Outbound event handlers
receive the seed product's form-encoded events with `auth[application_token]`.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from convodesk import crypto
from convodesk.conversations.normalize import clean_text


class WebhookCodeQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True, user__is_active=True)


class WebhookCode(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="bitrix24_codes",
        verbose_name=_("employee"),
    )
    name = models.CharField(_("name"), max_length=100, blank=True)
    code_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(_("starts with"), max_length=16, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    objects = WebhookCodeQuerySet.as_manager()

    class Meta:
        verbose_name = _("Bitrix24 webhook code")
        verbose_name_plural = _("Bitrix24 webhook codes")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.prefix}… ({self.name or self.user})"

    @classmethod
    def issue(cls, user, name: str = "") -> tuple[WebhookCode, str]:
        """A new code and its plain value, which is never stored or shown again."""
        plain = secrets.token_hex(12)  # 24 lower-case hex characters, like the seed product's
        code = cls.objects.create(
            user=user,
            name=clean_text(name, 100),
            code_hash=crypto.hash_token(plain),
            prefix=plain[:6],
        )
        return code, plain


class Connector(models.Model):
    """A custom connector registered by `imconnector.register` (its ID is the integration's)."""

    code = models.CharField(_("connector ID"), max_length=100, unique=True)
    name = models.CharField(_("name"), max_length=200)
    placement_handler = models.CharField(_("settings page"), max_length=2000, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("custom connector")
        verbose_name_plural = _("custom connectors")
        ordering = ["code"]

    def __str__(self):
        return self.code


class ConnectorLine(models.Model):
    """A connector active on an open channel: its clients' messages come in through `connection`."""

    # Indexed as the first column of `bitrix24_connector_line`.
    connector = models.ForeignKey(
        Connector, on_delete=models.CASCADE, related_name="lines", db_index=False
    )
    line = models.ForeignKey("lines.Line", on_delete=models.CASCADE, related_name="+")
    connection = models.OneToOneField(
        "lines.Connection", on_delete=models.CASCADE, related_name="bitrix24_connector"
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connector", "line"], name="bitrix24_connector_line")
        ]

    def __str__(self):
        return f"{self.connector_id} @ {self.line_id}"


class EventHandler(models.Model):
    """An outbound event subscription: the seed product's event, POSTed form-encoded."""

    class Event(models.TextChoices):
        MESSAGE_ADD = "OnImConnectorMessageAdd", "OnImConnectorMessageAdd"
        SESSION_FINISH = "OnOpenLineSessionFinish", "OnOpenLineSessionFinish"

    event = models.CharField(_("event"), max_length=40, choices=Event.choices)
    handler_url = models.CharField(_("handler URL"), max_length=2000)
    token_encrypted = models.TextField(editable=False, default="")
    connector = models.ForeignKey(
        Connector,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="handlers",
        verbose_name=_("only for the connector"),
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("outbound event handler")
        verbose_name_plural = _("outbound event handlers")
        ordering = ["event", "id"]

    def __str__(self):
        return f"{self.event} → {self.handler_url}"

    @property
    def application_token(self) -> str:
        return crypto.decrypt(self.token_encrypted)

    def new_token(self) -> str:
        token = secrets.token_hex(16)
        self.token_encrypted = crypto.encrypt(token)
        return token


class EventDelivery(models.Model):
    """One OnOpenLineSessionFinish POST still to make (or made): retried with the back-off of
    connectors/delivery.py. Replies (OnImConnectorMessageAdd) are message deliveries there."""

    class State(models.TextChoices):
        PENDING = "pending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Not delivered")

    handler = models.ForeignKey(EventHandler, on_delete=models.CASCADE, related_name="deliveries")
    conversation = models.ForeignKey(
        "conversations.Conversation", on_delete=models.CASCADE, related_name="+"
    )
    body = models.TextField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="bitrix24_delivery_due",
                condition=models.Q(state="pending"),
            )
        ]

    def __str__(self):
        return f"{self.handler_id} · #{self.conversation_id} · {self.state}"
