"""Open channels ("lines"): a named queue with members, rules and connected channels."""

import datetime
import zoneinfo

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from convodesk import crypto


class Line(models.Model):
    class Distribution(models.TextChoices):
        ALL_AT_ONCE = "all_at_once", _("To all at once")
        EVENLY = "evenly", _("Evenly")
        STRICT = "strict", _("Strictly in order")

    class CrmBinding(models.TextChoices):
        LEAD = "lead", _("Create a lead when no contact matches")
        CONTACT = "contact", _("Create a contact when no contact matches")
        NOTHING = "nothing", _("Do nothing")

    name = models.CharField(_("name"), max_length=200)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="LineMember", related_name="lines", blank=True
    )
    distribution = models.CharField(
        _("distribution"),
        max_length=20,
        choices=Distribution.choices,
        default=Distribution.ALL_AT_ONCE,
    )
    queue_timeout_seconds = models.PositiveIntegerField(_("queue time-out (seconds)"), default=60)
    max_open_per_employee = models.PositiveIntegerField(
        _("limit of open conversations per employee"), default=0, help_text=_("0 means no limit.")
    )
    auto_close_minutes = models.PositiveIntegerField(
        _("auto-close after client silence (minutes)"), default=240
    )
    closing_text = models.TextField(_("closing text"), blank=True)
    ask_rating = models.BooleanField(_("ask the client for a rating"), default=False)
    full_close_minutes = models.PositiveIntegerField(_("full-close delay (minutes)"), default=10)
    reopen_window_minutes = models.PositiveIntegerField(
        _("reopen window (minutes)"),
        default=0,
        help_text=_("0 means a new conversation every time."),
    )
    working_hours = models.JSONField(
        _("working hours"),
        default=dict,
        blank=True,
        help_text=_(
            'Per weekday (0 = Monday) a list of ["HH:MM", "HH:MM"] ranges; empty means always.'
        ),
    )
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC")
    holidays = models.JSONField(
        _("holidays"),
        default=list,
        blank=True,
        help_text=_("Dates (YYYY-MM-DD) when the open channel is closed all day."),
    )
    sla_first_seconds = models.PositiveIntegerField(
        _("first-answer target (seconds)"),
        null=True,
        blank=True,
        help_text=_("How long a client may wait for the first answer; empty means no target."),
    )
    sla_first_business = models.BooleanField(
        _("first-answer target counts business hours only"), default=True
    )
    sla_next_seconds = models.PositiveIntegerField(
        _("next-reply target (seconds)"),
        null=True,
        blank=True,
        help_text=_("How long a client may wait for each later reply; empty means no target."),
    )
    sla_next_business = models.BooleanField(
        _("next-reply target counts business hours only"), default=True
    )
    sla_mail = models.BooleanField(
        _("e-mail the supervisors when a target is missed"), default=False
    )
    greeting_text = models.TextField(
        _("greeting"),
        blank=True,
        help_text=_("Sent to the client when a conversation starts within working hours."),
    )
    out_of_hours_text = models.TextField(
        _("out-of-hours text"),
        blank=True,
        help_text=_(
            "Sent instead of the greeting when a conversation starts outside working hours."
        ),
    )
    default_country = models.CharField(_("default country for phones"), max_length=2, default="ES")
    crm_binding = models.CharField(
        _("CRM binding"), max_length=20, choices=CrmBinding.choices, default=CrmBinding.LEAD
    )
    crm_bind_open_deal = models.BooleanField(_("bind to the contact's open deal"), default=False)
    close_reason_required = models.BooleanField(
        _("require a close reason"),
        default=False,
        db_default=False,
        help_text=_("An employee chooses one of this open channel's close reasons to close."),
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("open channel")
        verbose_name_plural = _("open channels")
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def closing_mode(self) -> bool:
        return bool(self.closing_text) or self.ask_rating

    def within_working_hours(self, at: datetime.datetime) -> bool:
        """Open at `at`: not a holiday (in the channel's time zone) and inside a range of that
        weekday. No working hours means always open, except on holidays."""
        try:
            local = at.astimezone(zoneinfo.ZoneInfo(self.time_zone))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            local = at
        if local.date().isoformat() in (self.holidays or []):
            return False
        if not self.working_hours:
            return True
        hhmm = local.strftime("%H:%M")
        for start, end in self.working_hours.get(str(local.weekday()), []):
            if start <= hhmm < end:
                return True
        return False


class CloseReason(models.Model):
    """Why a conversation was closed: each open channel has its own list (issue 19 item 3)."""

    # Indexed as the first column of `close_reason_unique_name`.
    line = models.ForeignKey(
        Line, on_delete=models.CASCADE, related_name="close_reasons", db_index=False
    )
    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    archived = models.BooleanField(_("archived"), default=False)

    class Meta:
        verbose_name = _("close reason")
        verbose_name_plural = _("close reasons")
        ordering = ["position", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["line", "name"], name="close_reason_unique_name")
        ]

    def __str__(self):
        return self.name


class LineMember(models.Model):
    # Indexed as the first column of `line_member_unique`.
    line = models.ForeignKey(
        Line, on_delete=models.CASCADE, related_name="memberships", db_index=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="line_memberships"
    )
    position = models.PositiveIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        ordering = ["line", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["line", "user"], name="line_member_unique")]

    def __str__(self):
        return f"{self.user} @ {self.line}"


class Connection(models.Model):
    class Kind(models.TextChoices):
        LIVECHAT = "livechat", _("Live chat")
        TELEGRAM = "telegram", _("Telegram")
        EMAIL = "email", _("E-mail")
        API = "api", _("API")

    line = models.ForeignKey(Line, on_delete=models.CASCADE, related_name="connections")
    kind = models.CharField(_("channel"), max_length=20, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=200)
    config = models.JSONField(_("configuration"), default=dict, blank=True)
    public_key = models.CharField(max_length=64, unique=True, default=crypto.new_secret)
    allowed_origins = models.JSONField(_("allowed origins"), default=list, blank=True)
    secret_encrypted = models.TextField(editable=False, default="")
    secret_hash = models.CharField(max_length=64, editable=False, default="", db_index=True)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("connection")
        verbose_name_plural = _("connections")
        ordering = ["line", "name"]

    def __str__(self):
        return f"{self.name} ({self.get_kind_display()})"

    def save(self, *args, **kwargs):
        if not self.secret_encrypted:
            self.rotate_secret()
        super().save(*args, **kwargs)

    def rotate_secret(self) -> str:
        """Set a new secret and return it; it is shown once and stored encrypted."""
        secret = crypto.new_secret()
        self.secret_encrypted = crypto.encrypt(secret)
        self.secret_hash = crypto.hash_token(secret)
        return secret

    @property
    def secret(self) -> str:
        return crypto.decrypt(self.secret_encrypted)

    @property
    def allows_outgoing(self) -> bool:
        if self.kind == self.Kind.API:
            return bool(self.config.get("webhook_url"))
        return True
