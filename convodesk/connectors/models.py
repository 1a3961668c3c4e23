from django.db import models


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
