"""Tracked background work of the conversation list: Excel exports and bulk actions.

A job row is written before its task is enqueued, the task updates its progress as it goes,
and the owner (only the owner) follows it on a page that polls with htmx.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class JobStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to start")
    RUNNING = "running", _("Running")
    DONE = "done", _("Finished")
    FAILED = "failed", _("Failed")


class _Job(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Indexed as the first column of `exportjob_owner` / `bulkjob_owner`.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    params = models.JSONField(_("filter"), default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=JobStatus.choices, default=JobStatus.PENDING
    )
    progress = models.PositiveIntegerField(_("rows done"), default=0)
    total = models.PositiveIntegerField(_("rows"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at"]

    @property
    def finished(self) -> bool:
        return self.status in (JobStatus.DONE, JobStatus.FAILED)

    @property
    def percent(self) -> int:
        if self.status == JobStatus.DONE:
            return 100
        if not self.total:
            return 0
        return min(99, int(self.progress * 100 / self.total))


class ExportJob(_Job):
    """An Excel export of every conversation matching a filter, written in the background."""

    columns = models.JSONField(_("columns"), default=list)
    time_zone = models.CharField(max_length=64, default="UTC")
    file_path = models.CharField(max_length=500, blank=True)  # relative to settings.EXPORT_ROOT
    filename = models.CharField(max_length=200)  # the name the browser saves it as
    downloaded_at = models.DateTimeField(
        null=True, blank=True
    )  # first download: the notice is done

    class Meta(_Job.Meta):
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        indexes = [models.Index(fields=["owner", "-created_at"], name="exportjob_owner")]

    def __str__(self):
        return self.filename

    @property
    def path(self) -> Path | None:
        return Path(settings.EXPORT_ROOT) / self.file_path if self.file_path else None

    @property
    def ready(self) -> bool:
        return self.status == JobStatus.DONE and self.path is not None and self.path.exists()


class BulkJob(_Job):
    """A bulk action over selected conversations: each one goes through the services."""

    class Action(models.TextChoices):
        CLOSE = "close", _("Close")
        SPAM = "spam", _("Mark as spam")
        TRANSFER = "transfer", _("Transfer")
        TAG = "tag", _("Add a tag")
        UNTAG = "untag", _("Remove a tag")

    action = models.CharField(_("action"), max_length=10, choices=Action.choices)
    ids = models.JSONField(default=list)  # the conversations to act on, resolved when started
    target_line = models.ForeignKey(
        "lines.Line", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    target_employee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The action's own choice: {"tag": id} to add or remove, {"close_reason": name} to close with.
    choice = models.JSONField(default=dict, blank=True, db_default={})
    succeeded = models.PositiveIntegerField(default=0)
    failures = models.JSONField(default=list)  # [{"id": 12, "reason": "…"}]
    skipped = models.JSONField(default=list)  # [{"id": 12, "reason": "…"}]: not selectable
    skipped_count = models.PositiveIntegerField(default=0)
    back_query = models.TextField(blank=True)  # the list URL's query, for the way back

    class Meta(_Job.Meta):
        verbose_name = _("bulk action")
        verbose_name_plural = _("bulk actions")
        indexes = [models.Index(fields=["owner", "-created_at"], name="bulkjob_owner")]

    def __str__(self):
        return f"{self.get_action_display()} ({self.total or 0})"
