"""Statistics rollups, kept exact by the services (see rollups.py and tiers.py).

`Rollup` holds one row per tier × period × the tier's dimensions × type × current status, with
counts and sums. Tier 0 is the full hourly key (UTC hour of `started_at` × open channel × channel
kind × responsible employee × type × status); the other tiers are projections of it (coarser
periods, fewer dimensions) so that common questions read a few thousand rows instead of one per
conversation. A dimension a tier does not keep holds a sentinel (line 0, channel "",
responsible -1); `responsible_key` is 0 when nobody is responsible (a NULL would defeat the
unique key the upserts rely on).

`RollupBucket` holds the histogram counts of each time metric for the tiers that keep buckets;
`Participation` the per-employee figures (offered, taken, skipped, answered, reply periods) by
span of the conversation's start × open channel × channel kind × type × open or closed ×
employee.
"""

from django.db import models

from convodesk.conversations.columns import BUSINESS_METRIC_KEYS, METRIC_KEYS

# The rows rollups.fold_shards has yet to fold into shard 0 (their partial indexes).
UNFOLDED = models.Q(shard__gt=0)


def by_responsible(name: str) -> models.Index:
    """The rows of some employees over a range, within one tier: what a department supervisor's
    statistics read (sources.SplitSource: responsible in the department). Tier 0, the only one
    that keeps the line, the buckets and the hour together with the responsible employee, holds
    about a row per conversation; without it the unique key's (tier, period) range read every
    employee's rows of the month to keep the department's few."""
    return models.Index(fields=["tier", "responsible_key", "period"], name=name)


def by_line(name: str) -> models.Index:
    """The same for one open channel's rows (a filter on lines: its histograms, its timeline,
    its employees, which only tier 0 holds by line)."""
    return models.Index(fields=["tier", "line", "period"], name=name)


# RollupBucket.metric is an index into this: new metrics go at the end.
METRICS = (*METRIC_KEYS, *BUSINESS_METRIC_KEYS)


class RollupKey(models.Model):
    tier = models.PositiveSmallIntegerField(default=0)
    period = models.DateTimeField()  # start of the tier's span (an hour or 1, 4, 16 days)
    # No index on the line alone: with one, SQLite scanned the whole table in line order to
    # group by line (1.5 s for a 30-day filter on one channel) instead of reading the period
    # range. by_line() leads with the tier and serves reads that name a line.
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
    # Concurrent writers of one key add to different rows (rollups.shard): a key's figures are
    # the sum over its shards. A rebuild writes shard 0 only.
    shard = models.PositiveSmallIntegerField(default=0, db_default=0)

    class Meta:
        abstract = True


class Measures(models.Model):
    """What a rollup row adds up: counts and sums of the metrics (Rollup and LabelRollup)."""

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
    # Business hours (the open channel's calendar) and reply-time targets (SLA).
    reply_bh_sum = models.BigIntegerField(db_default=0)
    sla_met = models.BigIntegerField(db_default=0)
    sla_breaches = models.BigIntegerField(db_default=0)
    agent_response_time_bh_n = models.BigIntegerField(db_default=0)
    agent_response_time_bh_sum = models.BigIntegerField(db_default=0)
    first_answer_wait_bh_n = models.BigIntegerField(db_default=0)
    first_answer_wait_bh_sum = models.BigIntegerField(db_default=0)
    duration_bh_n = models.BigIntegerField(db_default=0)
    duration_bh_sum = models.BigIntegerField(db_default=0)
    time_to_agent_close_bh_n = models.BigIntegerField(db_default=0)
    time_to_agent_close_bh_sum = models.BigIntegerField(db_default=0)

    class Meta:
        abstract = True


class Rollup(RollupKey, Measures):
    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "tier",
                    "period",
                    "line",
                    "channel",
                    "responsible_key",
                    "type",
                    "status",
                    "shard",
                ],
                name="rollup_shard_key",
            )
        ]
        indexes = [
            # The rows of shards 1-7 that rollups.fold_shards folds into shard 0 (a few per key).
            models.Index(fields=["period"], name="rollup_unfolded", condition=UNFOLDED),
            by_responsible("rollup_by_responsible"),
            by_line("rollup_by_line"),
        ]

    def __str__(self):
        return f"tier {self.tier} {self.period:%Y-%m-%d %H}h line {self.line_id} {self.channel} status {self.status}: {self.n}"


class RollupBucket(RollupKey):
    metric = models.PositiveSmallIntegerField()  # index into METRICS
    bucket = models.PositiveSmallIntegerField()
    n = models.BigIntegerField(db_default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "tier",
                    "period",
                    "line",
                    "channel",
                    "responsible_key",
                    "type",
                    "status",
                    "metric",
                    "bucket",
                    "shard",
                ],
                name="rollup_bucket_shard_key",
            )
        ]
        indexes = [
            models.Index(fields=["period"], name="rollup_bucket_unfolded", condition=UNFOLDED),
            by_responsible("rollup_bucket_by_responsible"),
            by_line("rollup_bucket_by_line"),
        ]

    def __str__(self):
        return f"tier {self.tier} {self.period:%Y-%m-%d %H}h metric {self.metric} bucket {self.bucket}: {self.n}"


class Participation(models.Model):
    """What each employee did in the conversations started in one span (1, 4 or 16 UTC days, see
    tiers.py) per open channel, channel kind, type and open or closed.

    The channel kind, type and start never change for a conversation; its open channel changes
    on a transfer and its closed state on a close or reopen. The services add a participant's
    change where it happens, under the key the conversation counted under when the transaction
    began, and at its end move the conversation's whole figures to its new key when the line
    or the closed state changed (`services.core.Batch`): a page narrowed to closed
    conversations or to an open channel reads its employees here.
    """

    span = models.PositiveSmallIntegerField()  # hours
    period = models.DateTimeField()
    line_id = models.BigIntegerField(db_default=0)
    channel = models.CharField(max_length=20)
    type = models.CharField(max_length=10)
    closed = models.BooleanField(db_default=False)  # status at or past CLOSED
    employee_id = models.BigIntegerField()
    assigned = models.BigIntegerField(db_default=0)
    taken = models.BigIntegerField(db_default=0)
    skipped = models.BigIntegerField(db_default=0)
    answered = models.BigIntegerField(db_default=0)
    reply_n = models.BigIntegerField(db_default=0)
    reply_sum = models.BigIntegerField(db_default=0)
    # The same reply periods' seconds inside the open channel's business hours.
    reply_bh_sum = models.BigIntegerField(db_default=0)
    shard = models.PositiveSmallIntegerField(default=0, db_default=0)  # as RollupKey.shard

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "span",
                    "period",
                    "line_id",
                    "channel",
                    "type",
                    "closed",
                    "employee_id",
                    "shard",
                ],
                name="participation_key",
            )
        ]
        indexes = [
            models.Index(fields=["period"], name="participation_unfolded", condition=UNFOLDED)
        ]

    def __str__(self):
        state = "closed" if self.closed else "open"
        return (
            f"{self.span} h from {self.period:%Y-%m-%d} line {self.line_id} {self.channel} "
            f"{self.type} {state} employee {self.employee_id}"
        )


class LabelRollup(Measures):
    """The hourly rollup rows per tag and per close reason (issue 19 item 3).

    A conversation contributes one row per tag it carries and one for its close reason, each
    with the tier-0 key (UTC hour of `started_at`, open channel, channel kind, responsible, type,
    status) and the same measures as `Rollup`; the services move them in the same `Deltas`.
    """

    KIND_TAG, KIND_REASON = "tag", "reason"

    period = models.DateTimeField()
    kind = models.CharField(max_length=6)
    label_id = models.BigIntegerField()
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
    shard = models.PositiveSmallIntegerField(default=0, db_default=0)  # as RollupKey.shard

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "period",
                    "kind",
                    "label_id",
                    "line",
                    "channel",
                    "responsible_key",
                    "type",
                    "status",
                    "shard",
                ],
                name="label_rollup_shard_key",
            )
        ]
        indexes = [
            models.Index(fields=["period"], name="label_rollup_unfolded", condition=UNFOLDED),
            # As by_responsible(), for the hourly rows per tag and close reason.
            models.Index(
                fields=["kind", "responsible_key", "period"], name="label_rollup_by_responsible"
            ),
        ]

    def __str__(self):
        return f"{self.kind} {self.label_id} {self.period:%Y-%m-%d %H}h: {self.n}"


# The conversation columns the statistics add up (sources.DirectSource), besides the metrics.
FIGURES = (
    "line_id",
    "channel",
    "responsible_id",
    "close_reason_id",
    "type",
    "status",
    "started_at",
    "returning",
    "client_rating",
    "supervisor_rating",
    "reply_count",
    "reply_time_total",
    "reply_time_total_bh",
    "sla_met",
    "sla_breaches",
    *METRICS,
)


def _figures_row(name: str, table: str):
    """A model of one conversation's figures, in a temporary table that
    sources.materialized(figures=True) writes once per statistics page (never migrated: each
    connection makes and drops its own). Its fields are the conversation's own, by the same
    names, so the direct aggregates read either table unchanged; `conversation` reaches the
    conversation's tags."""
    from convodesk.conversations.models import Conversation

    attrs = {
        "__module__": __name__,
        "Meta": type("Meta", (), {"managed": False, "db_table": table}),
        "conversation": models.OneToOneField(
            Conversation,
            primary_key=True,
            db_column="id",
            on_delete=models.DO_NOTHING,
            db_constraint=False,
            related_name="+",
        ),
    }
    for column in FIGURES:
        field = Conversation._meta.get_field(column)
        if field.is_relation:  # the key alone, without a second relation to the same model
            attrs[column] = models.BigIntegerField(null=True)
        else:
            _name, _path, args, kwargs = field.deconstruct()
            attrs[column] = type(field)(*args, **kwargs)
    return type(name, (models.Model,), attrs)


# The filtered set of a page read from the table; the few conversations a page reads beside
# the rollups (sources.RollupSource._outside, SplitSource's X).
ScopeRow = _figures_row("ScopeRow", "stats_scope")
OutsideRow = _figures_row("OutsideRow", "stats_outside")
FIGURES_ROWS = {m._meta.db_table: m for m in (ScopeRow, OutsideRow)}
