from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class EmailHeaders(models.Model):
    """The mail headers of one stored message, in or out, so replies thread in both directions."""

    message = models.OneToOneField(
        "conversations.Message", on_delete=models.CASCADE, related_name="email"
    )
    header_id = models.CharField(max_length=500, db_index=True)  # the Message-ID header
    subject = models.CharField(max_length=500, blank=True)
    in_reply_to = models.CharField(max_length=500, blank=True)
    references = models.TextField(blank=True)

    def __str__(self):
        return self.header_id


class SkippedMessage(models.Model):
    """An incoming message that could not be stored even after cleaning: logged, kept here for an
    administrator, and passed over so the channel's fetch position advances (issue 15)."""

    connection = models.ForeignKey(
        "lines.Connection", on_delete=models.CASCADE, related_name="skipped_messages"
    )
    external_id = models.CharField(_("external id"), max_length=500, blank=True)
    reason = models.TextField(_("reason"))
    payload = models.TextField(_("payload excerpt"), blank=True)
    created_at = models.DateTimeField(_("skipped at"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("skipped message")
        verbose_name_plural = _("skipped messages")

    def __str__(self):
        return f"{self.connection_id}: {self.external_id or '?'}"
