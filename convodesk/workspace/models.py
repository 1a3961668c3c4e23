"""The workspace's own state: canned answers, read marks and operator presence."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class QuickReply(models.Model):
    """A canned answer offered in the composer: shared (no owner) or one employee's own, for one
    open channel or (no channel) for all. `{client_name}` and `{employee_name}` in the text are
    replaced when it is offered (`workspace.queries.quick_replies`)."""

    line = models.ForeignKey(
        "lines.Line",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="quick_replies",
        verbose_name=_("open channel"),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="quick_replies",
        verbose_name=_("owner"),
        help_text=_("Empty: shared with everyone."),
    )
    shortcut = models.SlugField(_("shortcut"), max_length=30, blank=True)
    title = models.CharField(_("title"), max_length=80)
    text = models.TextField(_("text"))
    position = models.PositiveIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("quick reply")
        verbose_name_plural = _("quick replies")
        ordering = ["line", "position", "id"]

    def __str__(self):
        return self.title


class ReadMark(models.Model):
    """The last message an employee has seen in a conversation; unread counts start after it."""

    # Indexed as the first column of `readmark_unique`.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    conversation = models.ForeignKey(
        "conversations.Conversation", on_delete=models.CASCADE, related_name="+"
    )
    last_message_id = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "conversation"], name="readmark_unique")
        ]

    def __str__(self):
        return f"{self.user_id}@{self.conversation_id}: {self.last_message_id}"


class OperatorPresence(models.Model):
    """Open operator sockets of an employee, so availability can follow presence."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="presence"
    )
    sockets = models.IntegerField(default=0)
    chose_away = models.BooleanField(default=False)
    away_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_seen = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.user_id}: {self.sockets}"
