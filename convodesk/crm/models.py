"""The small CRM: contacts, companies, leads, deals and the activities that stand for conversations.

Matching keys (channel identities, normalised phones and e-mails) live in their own indexed
tables or columns, so binding a new conversation is a handful of index look-ups.
"""

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


class CrmRecord(models.Model):
    """What contacts, companies, leads and deals share: a responsible employee, a comment, times."""

    responsible = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("responsible employee"),
    )
    comment = models.TextField(_("comment"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CrmQuerySet.as_manager()  # visible_to(user, "view" | "edit"): crm/visibility.py

    class Meta:
        abstract = True


class Company(CrmRecord):
    title = models.CharField(_("name"), max_length=255)
    phone = models.CharField(_("phone"), max_length=64, blank=True)
    email = models.CharField(_("e-mail"), max_length=254, blank=True)
    website = models.CharField(_("website"), max_length=255, blank=True)

    entity_type = "company"

    class Meta:
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        indexes = [models.Index(fields=["title"], name="crm_company_title")]

    def __str__(self):
        return self.title

    @property
    def display_title(self) -> str:
        return self.title


class Contact(CrmRecord):
    name = models.CharField(_("name"), max_length=255)
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
        indexes = [models.Index(fields=["name"], name="crm_contact_name")]

    def __str__(self):
        return self.name

    @property
    def display_title(self) -> str:
        return self.name

    def add_phone(self, raw: str, country: str = "", verified: bool = True) -> None:
        """Keep a phone; `verified=False` for one the client only typed (never matched on). A
        number already kept stays as it is: saving a card never vouches for a typed claim."""
        normalized = normalize_phone(raw, country)
        if not normalized:
            return
        if not self.phones.filter(normalized=normalized).exists():
            ContactPhone.objects.create(
                contact=self, value=raw.strip()[:64], normalized=normalized, verified=verified
            )

    def add_email(self, raw: str, verified: bool = True) -> None:
        """Keep an e-mail; `verified=False` for one the client only typed (never matched on). An
        address already kept stays as it is: saving a card never vouches for a typed claim."""
        normalized = normalize_email(raw)
        if not normalized:
            return
        if not self.emails.filter(normalized=normalized).exists():
            ContactEmail.objects.create(
                contact=self, value=raw.strip()[:254], normalized=normalized, verified=verified
            )

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

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.value


class ContactEmail(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="emails")
    value = models.CharField(_("e-mail"), max_length=254)
    normalized = models.CharField(max_length=254, db_index=True)
    verified = models.BooleanField(_("verified"), default=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.value


class ContactIdentity(models.Model):
    """A channel identity known to belong to a contact; the first thing binding looks up."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="identities")
    connection = models.ForeignKey("lines.Connection", on_delete=models.CASCADE, related_name="+")
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


class Lead(CrmRecord):
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

    def set_contact_data(self, phone: str | None, email: str | None, country: str = "") -> None:
        if phone is not None:
            self.phone = phone.strip()[:64]
            self.phone_normalized = normalize_phone(phone, country)
        if email is not None:
            self.email = email.strip()[:254]
            self.email_normalized = normalize_email(email)


class Deal(CrmRecord):
    class Stage(models.TextChoices):
        NEW = "new", _("New")
        PREPARATION = "preparation", _("Preparation")
        NEGOTIATION = "negotiation", _("Negotiation")
        WON = "won", _("Won")
        LOST = "lost", _("Lost")

    OPEN_STAGES = (Stage.NEW, Stage.PREPARATION, Stage.NEGOTIATION)

    title = models.CharField(_("title"), max_length=255)
    stage = models.CharField(_("stage"), max_length=20, choices=Stage.choices, default=Stage.NEW)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2, default=0)
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    contact = models.ForeignKey(
        Contact,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deals",
        verbose_name=_("contact"),
    )
    company = models.ForeignKey(
        Company,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deals",
        verbose_name=_("company"),
    )

    entity_type = "deal"

    class Meta:
        verbose_name = _("deal")
        verbose_name_plural = _("deals")
        indexes = [
            models.Index(fields=["contact", "stage", "-id"], name="crm_deal_contact"),
            models.Index(fields=["title"], name="crm_deal_title"),
        ]

    def __str__(self):
        return self.title

    @property
    def display_title(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.stage in self.OPEN_STAGES


class Activity(models.Model):
    """The CRM's record of one conversation: kept in step with it, completed when it closes."""

    class Type(models.TextChoices):
        OPEN_CHANNEL = "open_channel", _("Open channel conversation")

    class Direction(models.TextChoices):
        INCOMING = "incoming", _("Incoming")
        OUTGOING = "outgoing", _("Outgoing")

    type = models.CharField(
        _("type"), max_length=20, choices=Type.choices, default=Type.OPEN_CHANNEL
    )
    subject = models.CharField(_("subject"), max_length=255)
    direction = models.CharField(_("direction"), max_length=10, choices=Direction.choices)
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

    conversation = models.ForeignKey(
        "conversations.Conversation", on_delete=models.CASCADE, related_name="crm_suggestions"
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


MODELS = {"contact": Contact, "company": Company, "lead": Lead, "deal": Deal, "activity": Activity}
