"""The small CRM: contacts, companies, leads, deals and the activities that stand for conversations.

Matching keys (channel identities, normalised phones and e-mails) live in their own indexed
tables or columns, so binding a new conversation is a handful of index look-ups.
"""

from __future__ import annotations

import unicodedata

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from convodesk.conversations.normalize import normalize_email, normalize_phone

from .visibility import CrmQuerySet

# entity type (as stored on ConversationCrmLink) -> URL segment
KINDS = {
    "contact": "contacts",
    "company": "companies",
    "lead": "leads",
    "deal": "deals",
    "activity": "activities",
}
TYPE_BY_SEGMENT = {segment: kind for kind, segment in KINDS.items()}


def fold(text: str) -> str:
    """Text as the accent-insensitive search stores and compares it: lower case, accents
    dropped ("Martínez" -> "martinez"), runs of white space as one space."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.casefold().split())


class Searchable(models.Model):
    """A record with a folded search text (`fold`) kept in step on every save: the list's
    accent-insensitive search reads this one column (a trigram index on PostgreSQL)."""

    search = models.TextField(blank=True, default="", editable=False)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        self.fill_derived()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "search"}
        super().save(*args, **kwargs)

    def fill_derived(self) -> None:
        """The columns computed from others (also for inserts written without save())."""
        self.search = fold(" ".join(p for p in self.search_parts() if p))

    def search_parts(self) -> list[str]:
        return []


def _responsible(**options) -> models.ForeignKey:
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("responsible employee"),
        **options,
    )


class CrmRecord(models.Model):
    """What contacts, companies, leads and deals share: a responsible employee, a comment, times."""

    responsible = _responsible()
    comment = models.TextField(_("comment"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CrmQuerySet.as_manager()  # visible_to(user, "view" | "edit"): crm/visibility.py

    class Meta:
        abstract = True


class Company(Searchable, CrmRecord):
    title = models.CharField(_("name"), max_length=255)
    phone = models.CharField(_("phone"), max_length=64, blank=True)
    email = models.CharField(_("e-mail"), max_length=254, blank=True)
    website = models.CharField(_("website"), max_length=255, blank=True)
    # The folded name (`fold`), as Contact.name_key: possible duplicates by name.
    name_key = models.CharField(
        max_length=255, blank=True, default="", db_index=True, editable=False
    )

    entity_type = "company"

    class Meta:
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        indexes = [models.Index(fields=["title", "id"], name="crm_company_title_id")]

    def __str__(self):
        return self.title

    def save(self, *args, **kwargs):
        self.name_key = fold(self.title)[:255]
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "name_key"}
        super().save(*args, **kwargs)

    @property
    def display_title(self) -> str:
        return self.title

    def search_parts(self):
        return [self.title, self.phone, self.email, self.website]


class Contact(Searchable, CrmRecord):
    # Indexed as the first column of `crm_contact_responsible_id`.
    responsible = _responsible(db_index=False)
    name = models.CharField(_("name"), max_length=255)
    # The folded name (`fold`): possible duplicates by name are contacts with the same key.
    name_key = models.CharField(
        max_length=255, blank=True, default="", db_index=True, editable=False
    )
    company = models.ForeignKey(
        Company,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contacts",
        verbose_name=_("company"),
    )

    entity_type = "contact"

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        # The list's walks (issue 20, 1,000,000 contacts): by name then id (sort and keyset
        # cursor), and one responsible's contacts newest first (filter and own scope).
        indexes = [
            models.Index(fields=["name", "id"], name="crm_contact_name_id"),
            models.Index(fields=["responsible", "id"], name="crm_contact_responsible_id"),
            models.Index(fields=["created_at", "id"], name="crm_contact_created_id"),
            models.Index(fields=["updated_at", "id"], name="crm_contact_updated_id"),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.name_key = fold(self.name)[:255]
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "name_key"}
        super().save(*args, **kwargs)

    @property
    def display_title(self) -> str:
        return self.name

    def search_parts(self):
        parts = [self.name]
        # A new contact's phone and e-mail written right after its row (the binding's).
        parts += getattr(self, "pending_search", [])
        if self.pk:
            parts += [p for p in self.phones.values_list("value", "normalized") for p in p]
            parts += list(self.emails.values_list("normalized", flat=True))
        return parts

    def refresh_search(self) -> None:
        """Re-fold the search text after a phone or e-mail row changed."""
        self.search = fold(" ".join(p for p in self.search_parts() if p))
        Contact.objects.filter(pk=self.pk).update(search=self.search)

    def add_phone(self, raw: str, country: str = "", verified: bool = True, source_id=None) -> None:
        """Keep a phone; `verified=False` for one the client only typed (never matched on). A
        number already kept stays as it is: saving a card never vouches for a typed claim."""
        normalized = normalize_phone(raw, country)
        if not normalized:
            return
        if not self.phones.filter(normalized=normalized).exists():
            ContactPhone.objects.create(
                contact=self,
                value=raw.strip()[:64],
                normalized=normalized,
                verified=verified,
                source_id=source_id,
            )
            self.refresh_search()

    def add_email(self, raw: str, verified: bool = True, source_id=None) -> None:
        """Keep an e-mail; `verified=False` for one the client only typed (never matched on). An
        address already kept stays as it is: saving a card never vouches for a typed claim."""
        normalized = normalize_email(raw)
        if not normalized:
            return
        if not self.emails.filter(normalized=normalized).exists():
            ContactEmail.objects.create(
                contact=self,
                value=raw.strip()[:254],
                normalized=normalized,
                verified=verified,
                source_id=source_id,
            )
            self.refresh_search()

    def add_identity(self, connection_id: int, external_id: str) -> None:
        ContactIdentity.objects.get_or_create(
            connection_id=connection_id, external_id=external_id, defaults={"contact": self}
        )


class ContactPhone(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="phones")
    value = models.CharField(_("phone"), max_length=64)
    normalized = models.CharField(max_length=32, db_index=True)
    # False when the client typed it into the web chat: shown, never matched on (issue 15).
    verified = models.BooleanField(_("verified"), default=True)
    # The channel connection it came from (a bound conversation's); empty when an employee
    # typed it or a file imported it.
    source = models.ForeignKey(
        "lines.Connection",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("source"),
    )

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.value


class ContactEmail(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="emails")
    value = models.CharField(_("e-mail"), max_length=254)
    normalized = models.CharField(max_length=254, db_index=True)
    verified = models.BooleanField(_("verified"), default=True)
    source = models.ForeignKey(  # as ContactPhone.source
        "lines.Connection",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("source"),
    )

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.value


class ContactIdentity(models.Model):
    """A channel identity known to belong to a contact; the first thing binding looks up."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="identities")
    # Indexed as the first column of `crm_contact_identity_unique`.
    connection = models.ForeignKey(
        "lines.Connection", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    external_id = models.CharField(max_length=255)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "external_id"], name="crm_contact_identity_unique"
            )
        ]

    def __str__(self):
        return self.external_id


_OPEN_LEAD = Q(status__in=["new", "in_work"])


class Lead(Searchable, CrmRecord):
    class Status(models.TextChoices):
        NEW = "new", _("New")
        IN_WORK = "in_work", _("In work")
        CONVERTED = "converted", _("Converted")
        JUNK = "junk", _("Junk")

    OPEN_STATUSES = (Status.NEW, Status.IN_WORK)

    title = models.CharField(_("title"), max_length=255)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.NEW
    )
    source = models.CharField(_("source"), max_length=40, default="open_channel", editable=False)
    line = models.ForeignKey(
        "lines.Line",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("open channel"),
    )
    name = models.CharField(_("contact name"), max_length=255, blank=True)
    company_title = models.CharField(_("company name"), max_length=255, blank=True)
    phone = models.CharField(_("phone"), max_length=64, blank=True)
    email = models.CharField(_("e-mail"), max_length=254, blank=True)
    phone_normalized = models.CharField(max_length=32, blank=True)
    email_normalized = models.CharField(max_length=254, blank=True)
    # False when the phone and e-mail are what a web chat visitor typed: shown on the card,
    # carried to the contact a conversion makes as unverified, never matched on.
    contact_data_verified = models.BooleanField(_("contact data verified"), default=True)
    connection = models.ForeignKey(
        "lines.Connection", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    external_id = models.CharField(max_length=255, blank=True)
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="leads"
    )
    company = models.ForeignKey(
        Company, null=True, blank=True, on_delete=models.SET_NULL, related_name="leads"
    )
    deal = models.ForeignKey(
        "Deal", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    entity_type = "lead"

    class Meta:
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        indexes = [
            models.Index(
                fields=["connection", "external_id"], name="crm_lead_identity", condition=_OPEN_LEAD
            ),
            models.Index(fields=["phone_normalized"], name="crm_lead_phone", condition=_OPEN_LEAD),
            models.Index(fields=["email_normalized"], name="crm_lead_email", condition=_OPEN_LEAD),
            models.Index(fields=["title"], name="crm_lead_title"),
        ]

    def __str__(self):
        return self.title

    @property
    def display_title(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    def search_parts(self):
        return [
            self.title,
            self.name,
            self.company_title,
            self.phone,
            self.phone_normalized,
            self.email_normalized,
        ]

    def set_contact_data(self, phone: str | None, email: str | None, country: str = "") -> None:
        if phone is not None:
            self.phone = phone.strip()[:64]
            self.phone_normalized = normalize_phone(phone, country)
        if email is not None:
            self.email = email.strip()[:254]
            self.email_normalized = normalize_email(email)


class Pipeline(models.Model):
    """A sales pipeline: its ordered stages (`PipelineStage`), edited in Settings › Pipelines."""

    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveIntegerField(_("position"), default=0)
    is_default = models.BooleanField(_("default"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("pipeline")
        verbose_name_plural = _("pipelines")
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="crm_one_default_pipeline"
            )
        ]

    def __str__(self):
        return self.name

    @classmethod
    def default(cls) -> Pipeline:
        """The pipeline new deals go to; made with the standard stages when there is none."""
        found = cls.objects.filter(is_default=True).first() or cls.objects.first()
        if found is None:
            found = cls.objects.create(name=str(_("Sales")), is_default=True)
            found.add_standard_stages()
        return found

    def add_standard_stages(self) -> None:
        for position, (code, name, outcome) in enumerate(STANDARD_STAGES):
            PipelineStage.objects.create(
                pipeline=self, code=code, name=str(name), position=position, outcome=outcome
            )

    def ordered_stages(self) -> list[PipelineStage]:
        """Open stages in their order, then won, then lost (the board's columns)."""
        order = {"open": 0, "won": 1, "lost": 2}
        return sorted(self.stages.all(), key=lambda s: (order[s.outcome], s.position, s.pk))


class PipelineStage(models.Model):
    """A column of a pipeline. `code` is what a deal stores (stable when the stage is renamed);
    `outcome` says whether a deal here is still open, won or lost. Every pipeline has exactly
    one won and one lost stage (codes "won" and "lost")."""

    class Outcome(models.TextChoices):
        OPEN = "open", _("Open")
        WON = "won", _("Won")
        LOST = "lost", _("Lost")

    # Indexed as the first column of `crm_stage_code_unique`.
    pipeline = models.ForeignKey(
        Pipeline, on_delete=models.CASCADE, related_name="stages", db_index=False
    )
    code = models.SlugField(max_length=20)
    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveIntegerField(_("position"), default=0)
    outcome = models.CharField(
        _("outcome"), max_length=10, choices=Outcome.choices, default=Outcome.OPEN
    )

    class Meta:
        verbose_name = _("stage")
        verbose_name_plural = _("stages")
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "code"], name="crm_stage_code_unique")
        ]

    def __str__(self):
        return self.name


STANDARD_STAGES = [
    ("new", _("New"), "open"),
    ("preparation", _("Preparation"), "open"),
    ("negotiation", _("Negotiation"), "open"),
    ("won", _("Won"), "won"),
    ("lost", _("Lost"), "lost"),
]
CLOSED_STAGES = ("won", "lost")


class _OpenStageCodes:
    """The codes of every open stage of every pipeline, read when a query is built:
    `Deal.objects.filter(stage__in=Deal.OPEN_STAGES)` keeps meaning "open deals" when
    stages are added in the settings."""

    def __iter__(self):
        codes = set(
            PipelineStage.objects.filter(outcome=PipelineStage.Outcome.OPEN).values_list(
                "code", flat=True
            )
        )
        return iter(sorted(codes or {"new", "preparation", "negotiation"}))

    def __contains__(self, code):
        return bool(code) and code not in CLOSED_STAGES


class Deal(Searchable, CrmRecord):
    class Stage(models.TextChoices):
        """The standard pipeline's stages; a pipeline's own are its `PipelineStage` rows."""

        NEW = "new", _("New")
        PREPARATION = "preparation", _("Preparation")
        NEGOTIATION = "negotiation", _("Negotiation")
        WON = "won", _("Won")
        LOST = "lost", _("Lost")

    OPEN_STAGES = _OpenStageCodes()

    title = models.CharField(_("title"), max_length=255)
    # Indexed as the first column of `crm_deal_board`.
    pipeline = models.ForeignKey(
        Pipeline,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="deals",
        verbose_name=_("pipeline"),
        db_index=False,
    )
    stage = models.CharField(_("stage"), max_length=20, default=Stage.NEW)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2, default=0)
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    # Indexed as the first column of `crm_deal_contact`.
    contact = models.ForeignKey(
        Contact,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deals",
        verbose_name=_("contact"),
        db_index=False,
    )
    company = models.ForeignKey(
        Company,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deals",
        verbose_name=_("company"),
    )
    lost_reason = models.CharField(_("reason"), max_length=255, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    # The conversation the deal was made from (one click in the history), if any.
    source_conversation = models.ForeignKey(
        "conversations.Conversation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    entity_type = "deal"

    class Meta:
        verbose_name = _("deal")
        verbose_name_plural = _("deals")
        indexes = [
            models.Index(fields=["contact", "stage", "-id"], name="crm_deal_contact"),
            models.Index(fields=["title"], name="crm_deal_title"),
            models.Index(fields=["pipeline", "stage", "-id"], name="crm_deal_board"),
        ]

    def __str__(self):
        return self.title

    def save(self, *args, **kwargs):
        if self.pipeline_id is None:  # every deal is on a board: the default pipeline's
            self.pipeline = Pipeline.default()
            update_fields = kwargs.get("update_fields")
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "pipeline"}
        super().save(*args, **kwargs)

    @property
    def display_title(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.stage not in CLOSED_STAGES

    @property
    def outcome(self) -> str:
        return self.stage if self.stage in CLOSED_STAGES else "open"

    def search_parts(self):
        return [self.title]

    def stage_object(self) -> PipelineStage | None:
        if not self.pipeline_id:
            return None
        # .all(): a list that prefetched the pipelines' stages reads them without a query each.
        return next((s for s in self.pipeline.stages.all() if s.code == self.stage), None)

    def get_stage_display(self) -> str:
        stage = self.stage_object()
        if stage is not None:
            return stage.name
        return str(dict(self.Stage.choices).get(self.stage, self.stage))


class Activity(models.Model):
    """The CRM's record of one conversation: kept in step with it, completed when it closes."""

    class Type(models.TextChoices):
        OPEN_CHANNEL = "open_channel", _("Open channel conversation")
        CALL = "call", _("Call")
        MEETING = "meeting", _("Meeting")
        TASK = "task", _("Task")
        EMAIL = "email", _("E-mail")
        NOTE = "note", _("Note")

    # The types an employee creates by hand; an open channel activity comes with its conversation.
    MANUAL_TYPES = (Type.CALL, Type.MEETING, Type.TASK, Type.EMAIL, Type.NOTE)

    class Direction(models.TextChoices):
        INCOMING = "incoming", _("Incoming")
        OUTGOING = "outgoing", _("Outgoing")

    type = models.CharField(
        _("type"), max_length=20, choices=Type.choices, default=Type.OPEN_CHANNEL
    )
    subject = models.CharField(_("subject"), max_length=255)
    direction = models.CharField(
        _("direction"), max_length=10, choices=Direction.choices, default=Direction.OUTGOING
    )
    start_at = models.DateTimeField(_("start"))
    end_at = models.DateTimeField(_("end"), null=True, blank=True)
    responsible = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("responsible employee"),
    )
    completed = models.BooleanField(_("completed"), default=False)
    description = models.TextField(_("description"), blank=True)
    conversation = models.OneToOneField(
        "conversations.Conversation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="crm_activity",
    )
    owner_type = models.CharField(max_length=20)
    owner_id = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CrmQuerySet.as_manager()

    entity_type = "activity"

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        indexes = [models.Index(fields=["owner_type", "owner_id"], name="crm_activity_owner")]

    def __str__(self):
        return self.subject

    @property
    def display_title(self) -> str:
        return self.subject


class MatchSuggestion(models.Model):
    """A possible match from contact data the client typed in themselves (the web chat widget).

    Typed data is a claim, not proof: it never binds a conversation to an existing record by
    itself. It is kept here and shown on the card, where an employee who may act on the
    conversation and edit the record confirms it (which re-binds the conversation)."""

    class MatchedBy(models.TextChoices):
        PHONE = "phone", _("the same phone")
        EMAIL = "email", _("the same e-mail")

    # Indexed as the first column of `crm_match_suggestion_unique`.
    conversation = models.ForeignKey(
        "conversations.Conversation",
        on_delete=models.CASCADE,
        related_name="crm_suggestions",
        db_index=False,
    )
    entity_type = models.CharField(max_length=20)  # contact or lead
    entity_id = models.BigIntegerField()
    matched_by = models.CharField(max_length=10, choices=MatchedBy.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("possible match")
        verbose_name_plural = _("possible matches")
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "entity_type", "entity_id"],
                name="crm_match_suggestion_unique",
            )
        ]
        indexes = [models.Index(fields=["entity_type", "entity_id"], name="crm_suggestion_entity")]

    def __str__(self):
        return f"{self.entity_type} #{self.entity_id} ({self.matched_by})"


class CrmEvent(models.Model):
    """One line of a CRM record's timeline: created, changed, stage moves, won or lost, merges,
    deletions and the conversations a deletion let go. Written only by crm/services.py, in the
    transaction of the change it records."""

    entity_type = models.CharField(max_length=20)
    entity_id = models.BigIntegerField()
    kind = models.CharField(max_length=40)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()
    payload = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["entity_type", "entity_id", "-at", "-id"], name="crm_event_entity")
        ]

    def __str__(self):
        return f"{self.entity_type} #{self.entity_id} · {self.kind}"


class CrmMerge(models.Model):
    """A merge of two contacts or two companies, kept for 30 days so it can be undone: the
    removed record's fields, the kept one's fields before, and the ids of every row the merge
    moved. `kept` holds a kept contact, `kept_company` a kept company (`entity_type` says which)."""

    UNDO_DAYS = 30

    entity_type = models.CharField(max_length=20, default="contact")
    kept = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.CASCADE, related_name="merges"
    )
    kept_company = models.ForeignKey(
        Company, null=True, blank=True, on_delete=models.CASCADE, related_name="merges"
    )
    removed_id = models.BigIntegerField()
    removed = models.JSONField(default=dict)
    kept_before = models.JSONField(default=dict)
    moved = models.JSONField(default=dict)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()
    undone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.entity_type} #{self.removed_id} → #{self.kept_record_id}"

    @property
    def kept_record_id(self):
        return self.kept_company_id if self.entity_type == "company" else self.kept_id


class CrmImport(models.Model):
    """An import of contacts or companies from a CSV or .xlsx file: its column mapping, how
    duplicates are handled, progress, and the per-row error report (crm/imports.py)."""

    class Status(models.TextChoices):
        MAPPING = "mapping", _("Waiting for the column mapping")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    class Duplicates(models.TextChoices):
        SKIP = "skip", _("Skip rows that match an existing record")
        CREATE = "create", _("Create them anyway")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="crm_imports"
    )
    kind = models.CharField(max_length=20)  # contact or company
    file_path = models.CharField(max_length=500)
    file_name = models.CharField(max_length=255)
    headers = models.JSONField(default=list)
    mapping = models.JSONField(default=dict)  # column index (as text) -> field
    duplicates = models.CharField(
        max_length=10, choices=Duplicates.choices, default=Duplicates.SKIP
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.MAPPING)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    duplicate_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    report_path = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.file_name


class CrmPreset(models.Model):
    """A saved filter of one CRM list (`kind`), like the conversation list's presets."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="crm_presets"
    )
    kind = models.CharField(max_length=20)
    name = models.CharField(_("name"), max_length=100)
    query = models.TextField(_("filter"), blank=True)
    shared = models.BooleanField(_("shared with everyone"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["kind", "owner"], name="crm_preset_kind")]

    def __str__(self):
        return self.name


MODELS = {"contact": Contact, "company": Company, "lead": Lead, "deal": Deal, "activity": Activity}
