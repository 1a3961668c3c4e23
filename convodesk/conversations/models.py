"""Clients, conversations, their messages, participants, reply periods and the event log."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from . import lifecycle
from .lifecycle import STATE_FIELDS, Status
from .visibility import ConversationQuerySet

STATUS_CHOICES = [(s.value, lifecycle.STATUS_LABELS[s]) for s in Status]


class Client(models.Model):
    name = models.CharField(_("name"), max_length=255)
    phone = models.CharField(_("phone"), max_length=64, blank=True)
    email = models.CharField(_("e-mail"), max_length=254, blank=True)
    phone_normalized = models.CharField(max_length=32, blank=True, db_index=True)
    email_normalized = models.CharField(max_length=254, blank=True, db_index=True)
    # The name without accents or case (normalize.fold_name): what the client search matches.
    name_search = models.CharField(max_length=255, blank=True, db_default="", default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("client")
        verbose_name_plural = _("clients")
        indexes = [
            models.Index(fields=["name"], name="client_name_idx"),
            models.Index(fields=["name_search"], name="client_name_search_idx"),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        """Every write of the name keeps its searchable form beside it."""
        self.fill_derived()
        fields = kwargs.get("update_fields")
        if fields is not None and "name" in fields and "name_search" not in fields:
            kwargs["update_fields"] = [*fields, "name_search"]
        super().save(*args, **kwargs)

    def fill_derived(self) -> None:
        """The columns computed from others (also for inserts written without save())."""
        from .normalize import fold_name

        self.name_search = fold_name(self.name)

    def set_contact(
        self, phone: str | None = None, email: str | None = None, country: str = ""
    ) -> None:
        from .normalize import normalize_email, normalize_phone

        if phone:
            self.phone = phone
            self.phone_normalized = normalize_phone(phone, country)
        if email:
            self.email = email
            self.email_normalized = normalize_email(email)


class ClientIdentity(models.Model):
    """One way a client reaches us: a channel identity on one connection."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="identities")
    # No index of its own: `identity_unique_per_connection` starts with it. With both, a planner
    # without statistics may pick this one for a lookup by (connection, external_id) and read
    # every identity of the connection.
    connection = models.ForeignKey(
        "lines.Connection", on_delete=models.CASCADE, related_name="identities", db_index=False
    )
    external_id = models.CharField(max_length=255)
    display_name = models.CharField(max_length=255, blank=True)
    username = models.CharField(max_length=255, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("client identity")
        verbose_name_plural = _("client identities")
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "external_id"], name="identity_unique_per_connection"
            )
        ]

    def __str__(self):
        return f"{self.connection_id}:{self.external_id}"


class Tag(models.Model):
    """A label employees put on conversations; managed in settings, archived rather than deleted."""

    class Colour(models.TextChoices):
        GREY = "grey", _("Grey")
        BLUE = "blue", _("Blue")
        GREEN = "green", _("Green")
        YELLOW = "yellow", _("Yellow")
        ORANGE = "orange", _("Orange")
        RED = "red", _("Red")
        PURPLE = "purple", _("Purple")

    name = models.CharField(_("name"), max_length=60, unique=True)
    colour = models.CharField(_("colour"), max_length=10, choices=Colour.choices, default="grey")
    archived = models.BooleanField(_("archived"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]

    def __str__(self):
        return self.name


class Conversation(models.Model):
    class Type(models.TextChoices):
        INCOMING = lifecycle.INCOMING, _("Incoming")
        OUTGOING = lifecycle.OUTGOING, _("Outgoing")

    class ClosedBy(models.TextChoices):
        EMPLOYEE = lifecycle.CLOSED_BY_EMPLOYEE, _("Employee")
        AUTOMATIC = lifecycle.CLOSED_BY_AUTOMATIC, _("Automatically")
        SYSTEM = lifecycle.CLOSED_BY_SYSTEM, _("System")

    type = models.CharField(_("type"), max_length=10, choices=Type.choices, default=Type.INCOMING)
    status = models.PositiveSmallIntegerField(
        _("detailed status"), choices=STATUS_CHOICES, default=0
    )
    # Kept alone beside `conv_line_started` (see tests/ops/test_schema_indexes.py).
    line = models.ForeignKey("lines.Line", on_delete=models.PROTECT, related_name="conversations")
    connection = models.ForeignKey(
        "lines.Connection", on_delete=models.PROTECT, related_name="conversations"
    )
    channel = models.CharField(_("channel"), max_length=20)
    # Indexed by `conv_client_line` (client, line) instead of alone.
    client = models.ForeignKey(
        Client, on_delete=models.PROTECT, related_name="conversations", db_index=False
    )
    identity = models.ForeignKey(
        ClientIdentity, on_delete=models.PROTECT, related_name="conversations"
    )
    # Kept alone beside `conv_resp_started` (see tests/ops/test_schema_indexes.py).
    responsible = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="responsible_conversations",
    )

    started_at = models.DateTimeField(_("started"))
    assigned_at = models.DateTimeField(null=True, blank=True)
    taken_at = models.DateTimeField(null=True, blank=True)
    first_reply_at = models.DateTimeField(null=True, blank=True)
    last_message_at = models.DateTimeField(null=True, blank=True)
    agent_closed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField()
    waiting_since = models.DateTimeField(null=True, blank=True)
    closed_by = models.CharField(max_length=10, choices=ClosedBy.choices, blank=True)
    pending_closed_by = models.CharField(max_length=10, blank=True)

    message_count = models.PositiveIntegerField(default=0)
    transfer_count = models.PositiveIntegerField(default=0)
    client_rating = models.SmallIntegerField(null=True, blank=True)  # 1 like, -1 dislike
    supervisor_rating = models.PositiveSmallIntegerField(null=True, blank=True)
    supervisor_comment = models.TextField(blank=True)
    spam = models.BooleanField(default=False)
    pinned = models.BooleanField(default=False)
    business_hours = models.BooleanField(default=True)
    returning = models.BooleanField(default=False)
    source_url = models.CharField(max_length=1000, blank=True)
    excerpt = models.CharField(max_length=200, blank=True)

    # The primary CRM record and activity, denormalised from ConversationCrmLink for the list.
    crm_entity_type = models.CharField(max_length=20, blank=True)
    crm_entity_id = models.BigIntegerField(null=True, blank=True)
    crm_title = models.CharField(max_length=255, blank=True)
    crm_activity_id = models.BigIntegerField(null=True, blank=True)

    # Tags and the close reason (issue 19 item 3). `tag_ids` repeats the ConversationTag rows'
    # tag ids, sorted, so a transition moves the statistics per tag without reading them.
    tags = models.ManyToManyField(
        Tag, through="ConversationTag", related_name="conversations", blank=True
    )
    tag_ids = models.JSONField(default=list, db_default=[], blank=True)
    close_reason = models.ForeignKey(
        "lines.CloseReason",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="conversations",
    )

    agent_response_time = models.PositiveIntegerField(null=True, blank=True)
    first_answer_wait = models.PositiveIntegerField(null=True, blank=True)
    duration = models.PositiveIntegerField(null=True, blank=True)
    time_to_agent_close = models.PositiveIntegerField(null=True, blank=True)
    reply_count = models.PositiveIntegerField(default=0)
    reply_time_first = models.PositiveIntegerField(null=True, blank=True)
    reply_time_total = models.PositiveIntegerField(null=True, blank=True)
    reply_time_avg = models.PositiveIntegerField(null=True, blank=True)
    reply_time_max = models.PositiveIntegerField(null=True, blank=True)
    # The same metrics in business hours (the open channel's calendar, lines/calendar.py).
    agent_response_time_bh = models.PositiveIntegerField(null=True, blank=True)
    first_answer_wait_bh = models.PositiveIntegerField(null=True, blank=True)
    duration_bh = models.PositiveIntegerField(null=True, blank=True)
    time_to_agent_close_bh = models.PositiveIntegerField(null=True, blank=True)
    reply_time_first_bh = models.PositiveIntegerField(null=True, blank=True)
    reply_time_total_bh = models.PositiveIntegerField(null=True, blank=True)
    reply_time_avg_bh = models.PositiveIntegerField(null=True, blank=True)
    reply_time_max_bh = models.PositiveIntegerField(null=True, blank=True)
    # Reply-time targets (SLA): when the client's current wait is due, whether it is overdue
    # (the breach was recorded), and the ended waits that met or missed their target.
    due_at = models.DateTimeField(null=True, blank=True)
    overdue = models.BooleanField(default=False)
    sla_met = models.PositiveIntegerField(default=0)
    sla_breaches = models.PositiveIntegerField(default=0)

    auto_close_at = models.DateTimeField(null=True, blank=True)
    full_close_at = models.DateTimeField(null=True, blank=True)
    offer_expires_at = models.DateTimeField(null=True, blank=True)

    objects = ConversationQuerySet.as_manager()

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        constraints = [
            models.UniqueConstraint(
                fields=["identity", "connection"],
                condition=Q(status__lt=lifecycle.OPEN_BELOW),
                name="one_open_conversation_per_identity",
            )
        ]
        indexes = [
            models.Index(fields=["-started_at", "-id"], name="conv_started"),
            models.Index(fields=["status", "-started_at", "-id"], name="conv_status_started"),
            models.Index(fields=["line", "-started_at", "-id"], name="conv_line_started"),
            models.Index(fields=["channel", "-started_at", "-id"], name="conv_channel_started"),
            models.Index(fields=["responsible", "-started_at", "-id"], name="conv_resp_started"),
            # Open conversations per employee (distribution's open-count limit), see BENCHMARKS.md.
            # Open conversations by responsible, with the status: the distribution's open
            # counts (`responsible = ? AND status < 50`) are a range of it. On the responsible
            # alone SQLite, without statistics, picked the foreign key's index and read every
            # conversation an employee was ever responsible for.
            models.Index(
                fields=["responsible", "status"],
                name="conv_resp_open_status",
                condition=Q(status__lt=int(lifecycle.Status.CLOSING)),
            ),
            models.Index(fields=["client", "-started_at"], name="conv_client_started"),
            # "Has this client written to this line before?" (a new conversation's `returning`)
            # as one index range. With a single-column index per foreign key, a planner without
            # statistics could read it by the line's index: every conversation of the line.
            models.Index(fields=["client", "line"], name="conv_client_line"),
            models.Index(fields=["closed_at", "id"], name="conv_closed"),
            models.Index(fields=["updated_at", "id"], name="conv_updated"),
            models.Index(fields=["last_message_at", "id"], name="conv_last_message"),
            models.Index(fields=["agent_response_time", "id"], name="conv_art"),
            models.Index(fields=["first_answer_wait", "id"], name="conv_faw"),
            models.Index(fields=["duration", "id"], name="conv_duration"),
            models.Index(fields=["time_to_agent_close", "id"], name="conv_ttac"),
            models.Index(fields=["reply_time_avg", "id"], name="conv_rt_avg"),
            models.Index(
                fields=["waiting_since"],
                name="conv_waiting",
                condition=Q(waiting_since__isnull=False),
            ),
            models.Index(
                fields=["auto_close_at"],
                name="conv_due_auto",
                condition=Q(auto_close_at__isnull=False),
            ),
            models.Index(
                fields=["full_close_at"],
                name="conv_due_full",
                condition=Q(full_close_at__isnull=False),
            ),
            models.Index(
                fields=["offer_expires_at"],
                name="conv_due_offer",
                condition=Q(offer_expires_at__isnull=False),
            ),
            models.Index(fields=["crm_entity_type", "crm_entity_id"], name="conv_crm"),
            models.Index(fields=["agent_response_time_bh", "id"], name="conv_art_bh"),
            models.Index(fields=["first_answer_wait_bh", "id"], name="conv_faw_bh"),
            models.Index(fields=["duration_bh", "id"], name="conv_duration_bh"),
            models.Index(fields=["time_to_agent_close_bh", "id"], name="conv_ttac_bh"),
            models.Index(fields=["reply_time_avg_bh", "id"], name="conv_rt_avg_bh"),
            # The timers' breach sweep (due, not yet recorded) and the due-time ordering.
            models.Index(
                fields=["due_at", "id"],
                name="conv_due_sla",
                condition=Q(due_at__isnull=False, overdue=False),
            ),
        ]

    def __str__(self):
        return f"#{self.pk}"

    @property
    def status_key(self) -> str:
        return lifecycle.STATUS_KEYS[Status(self.status)]

    @property
    def simple_status(self) -> str:
        return lifecycle.simple_status(self.status)

    @property
    def is_open(self) -> bool:
        return self.status < lifecycle.OPEN_BELOW

    @property
    def is_overdue(self) -> bool:
        """Past the due instant of the client's current wait (SLA)."""
        from django.utils import timezone

        return self.due_at is not None and self.due_at <= timezone.now()

    def to_state(self) -> lifecycle.State:
        values = {}
        for name in STATE_FIELDS:
            if name == "status":
                values[name] = self.status
            elif name == "responsible":
                values[name] = self.responsible_id
            else:
                values[name] = getattr(self, name)
        return lifecycle.State(**values)

    def set_state(self, state: lifecycle.State) -> list[str]:
        """Copy the state and its derived metrics onto the row; return the changed fields."""
        changed = []
        values = {name: getattr(state, name) for name in STATE_FIELDS}
        values["responsible_id"] = values.pop("responsible")
        values["status"] = int(values["status"])
        values.update(lifecycle.metrics(state))
        for name, value in values.items():
            if getattr(self, name) != value:
                setattr(self, name, value)
                changed.append(name)
        return changed


class ConversationParticipant(models.Model):
    """An employee's part in a conversation; the "own" visibility level reads `sees`."""

    # Kept alone beside `participant_unique` (see tests/ops/test_schema_indexes.py).
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="participants"
    )
    employee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="participations"
    )
    started_at = models.DateTimeField()  # the conversation's, so "own" lists page by it
    is_responsible = models.BooleanField(default=False)
    was_responsible = models.BooleanField(default=False)
    wrote = models.BooleanField(default=False)
    offered_now = models.BooleanField(default=False)
    ever_offered = models.BooleanField(default=False)
    took = models.BooleanField(default=False)
    joined = models.BooleanField(
        default=False, db_default=False
    )  # an extra participant (the responsible is unchanged)
    skip_count = models.PositiveIntegerField(default=0)
    sees = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "employee"], name="participant_unique")
        ]
        indexes = [
            models.Index(
                fields=["employee", "-started_at", "-conversation"],
                name="participant_own",
                condition=Q(sees=True),
                # PostgreSQL: a department's statistics find the rows that grant without being
                # the responsible's (stats.sources.SplitSource's X) from the index alone.
                include=["is_responsible"],
            ),
            models.Index(
                fields=["employee", "conversation"],
                name="participant_offered",
                condition=Q(offered_now=True),
            ),
            # The rows that grant nothing (visibility.withheld_rows) by the conversation's start,
            # with the conversation (read from the index alone): a department's statistics
            # subtract the conversations hidden from it from the employees' Participation
            # figures (stats.sources.SplitSource).
            models.Index(
                fields=["employee", "started_at", "conversation"],
                name="participant_withheld",
                condition=Q(sees=False),
            ),
        ]

    def __str__(self):
        return f"#{self.conversation_id} · {self.employee_id}"

    def refresh_sees(self) -> None:
        self.sees = (
            self.is_responsible
            or self.was_responsible
            or self.wrote
            or self.offered_now
            or self.joined
        )


class ReplyPeriod(models.Model):
    """One ended period in which the client waited, credited to the employee who ended it."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="reply_periods"
    )
    # Indexed as the first column of `reply_period_employee`.
    employee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        db_index=False,
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    seconds = models.PositiveIntegerField()
    business_seconds = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["employee", "ended_at"], name="reply_period_employee")]

    def __str__(self):
        return f"#{self.conversation_id} · {self.seconds} s"


class Message(models.Model):
    class Author(models.TextChoices):
        CLIENT = "client", _("Client")
        EMPLOYEE = "employee", _("Employee")
        SYSTEM = "system", _("System")
        BOT = "bot", _("Automatic")
        NOTE = "note", _("Private note")

    class Delivery(models.TextChoices):
        NONE = "", "—"
        PENDING = "pending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Not delivered")

    # Indexed as the first column of `message_conversation`.
    conversation = models.ForeignKey(
        Conversation,
        on_delete=models.CASCADE,
        related_name="messages",
        db_index=False,
    )
    author_kind = models.CharField(max_length=10, choices=Author.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField(blank=True)
    attachments = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()
    connection = models.ForeignKey(
        "lines.Connection", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    external_id = models.CharField(max_length=255, null=True, blank=True)
    channel_sent_at = models.DateTimeField(null=True, blank=True)
    delivery_state = models.CharField(
        max_length=10, choices=Delivery.choices, blank=True, default=""
    )
    delivery_attempts = models.PositiveIntegerField(default=0)
    delivery_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    channel_message_id = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "external_id"],
                name="message_external_unique",
                condition=Q(external_id__isnull=False),
            )
        ]
        indexes = [
            models.Index(fields=["conversation", "created_at", "id"], name="message_conversation"),
            # Messages still to send or given up on: the timers' delivery sweep and /metrics read
            # only these (a few rows), never the whole table.
            models.Index(
                fields=["next_attempt_at"],
                name="message_delivery_open",
                # Written as an OR so that SQLite, too, sees a query on one state implied by it.
                condition=Q(delivery_state="pending") | Q(delivery_state="failed"),
            ),
        ]

    def __str__(self):
        return f"#{self.conversation_id} · {self.author_kind} · {self.text[:40]}"


class ConversationEvent(models.Model):
    """Every change of a conversation; also the outbox that live updates read from."""

    # Indexed as the first column of `event_conversation`.
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    kind = models.CharField(max_length=40)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_kind = models.CharField(max_length=20)
    from_status = models.PositiveSmallIntegerField(null=True, blank=True)
    to_status = models.PositiveSmallIntegerField(null=True, blank=True)
    at = models.DateTimeField()
    payload = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["conversation", "id"], name="event_conversation")]

    def __str__(self):
        return f"#{self.conversation_id} · {self.kind}"


class ConversationCrmLink(models.Model):
    """A CRM record a conversation is bound to; several per conversation, one primary."""

    # Indexed as the first column of `crm_link_unique`.
    conversation = models.ForeignKey(
        Conversation,
        on_delete=models.CASCADE,
        related_name="crm_links",
        db_index=False,
    )
    entity_type = models.CharField(max_length=20)  # contact, company, lead, deal
    entity_id = models.BigIntegerField()
    title = models.CharField(max_length=255, blank=True)
    is_primary = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "entity_type", "entity_id"], name="crm_link_unique"
            ),
            models.UniqueConstraint(
                fields=["conversation"], condition=Q(is_primary=True), name="crm_link_one_primary"
            ),
        ]
        indexes = [models.Index(fields=["entity_type", "entity_id"], name="crm_link_entity")]

    def __str__(self):
        return f"#{self.conversation_id} → {self.entity_type} {self.entity_id}"


class ConversationTag(models.Model):
    """A tag on a conversation. Indexed by tag then the list's default order (newest first), so
    a tag filter reads only the tagged conversations' rows in the order the list pages them."""

    # No single-column indexes: the unique (conversation, tag) and (tag, started_at, conversation)
    # cover them, and PostgreSQL picked a bare tag_id index over the ordered one.
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="tag_links", db_index=False
    )
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="links", db_index=False)
    started_at = models.DateTimeField()  # the conversation's, as ConversationParticipant's
    added_at = models.DateTimeField()
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "tag"], name="conversation_tag_unique")
        ]
        indexes = [
            models.Index(
                fields=["tag", "-started_at", "-conversation"], name="conversation_tag_by_tag"
            )
        ]

    def __str__(self):
        return f"#{self.conversation_id} · {self.tag_id}"


class FilterPreset(models.Model):
    """A saved filter of the conversation list; shared presets still obey each viewer's visibility."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="filter_presets"
    )
    name = models.CharField(_("name"), max_length=100)
    query = models.TextField(_("filter"), blank=True)
    shared = models.BooleanField(_("shared with everyone"), default=False)
    is_default = models.BooleanField(_("default"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner"], condition=Q(is_default=True), name="one_default_preset"
            )
        ]

    def __str__(self):
        return self.name


from .jobs import BulkJob, ExportJob  # noqa: E402,F401  (tracked export and bulk jobs)
