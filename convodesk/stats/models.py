"""Hourly rollups of conversations, kept exact by the services (see rollups.py).

One row per UTC hour of `started_at` × open channel × channel kind × responsible employee ×
type × current status, with counts and sums; one `RollupBucket` row per histogram bucket of each
time metric for the same key. `responsible_key` is 0 when nobody is responsible (a NULL would
defeat the unique key the upserts rely on).
"""

from django.db import models

METRICS = ("agent_response_time", "first_answer_wait", "duration", "time_to_agent_close")
DIMENSIONS = ("hour", "line_id", "channel", "responsible_key", "type", "status")


class HourlyRollup(models.Model):
    hour = models.DateTimeField()
    # No index of its own: with one, SQLite scanned the whole table in line order to group by
    # line (1.5 s for a 30-day filter on one channel) instead of reading the hour range.
    line = models.ForeignKey(
        "lines.Line",
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    channel = models.CharField(max_length=20)
    responsible_key = models.BigIntegerField(default=0)
    type = models.CharField(max_length=10)
    status = models.PositiveSmallIntegerField()

    n = models.BigIntegerField(db_default=0)
    returning = models.BigIntegerField(db_default=0)
    likes = models.BigIntegerField(db_default=0)
    dislikes = models.BigIntegerField(db_default=0)
    supervisor_rating_n = models.BigIntegerField(db_default=0)
    supervisor_rating_sum = models.BigIntegerField(db_default=0)
    reply_n = models.BigIntegerField(db_default=0)
    reply_sum = models.BigIntegerField(db_default=0)
    agent_response_time_n = models.BigIntegerField(db_default=0)
    agent_response_time_sum = models.BigIntegerField(db_default=0)
    first_answer_wait_n = models.BigIntegerField(db_default=0)
    first_answer_wait_sum = models.BigIntegerField(db_default=0)
    duration_n = models.BigIntegerField(db_default=0)
    duration_sum = models.BigIntegerField(db_default=0)
    time_to_agent_close_n = models.BigIntegerField(db_default=0)
    time_to_agent_close_sum = models.BigIntegerField(db_default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "line", "channel", "responsible_key", "type", "status"],
                name="rollup_key",
            )
        ]

    def __str__(self):
        return f"{self.hour:%Y-%m-%d %H}h line {self.line_id} {self.channel} status {self.status}: {self.n}"


class RollupBucket(models.Model):
    hour = models.DateTimeField()
    # No index of its own: with one, SQLite scanned the whole table in line order to group by
    # line (1.5 s for a 30-day filter on one channel) instead of reading the hour range.
    line = models.ForeignKey(
        "lines.Line",
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    channel = models.CharField(max_length=20)
    responsible_key = models.BigIntegerField(default=0)
    type = models.CharField(max_length=10)
    status = models.PositiveSmallIntegerField()
    metric = models.PositiveSmallIntegerField()  # index into METRICS
    bucket = models.PositiveSmallIntegerField()
    n = models.BigIntegerField(db_default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "hour",
                    "line",
                    "channel",
                    "responsible_key",
                    "type",
                    "status",
                    "metric",
                    "bucket",
                ],
                name="rollup_bucket_key",
            )
        ]

    def __str__(self):
        return f"{self.hour:%Y-%m-%d %H}h metric {self.metric} bucket {self.bucket}: {self.n}"
