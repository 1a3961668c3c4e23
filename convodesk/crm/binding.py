"""Binding conversations to CRM records (the open channel's CRM rules): the decision only.

`decide_new_conversation` looks records up and says what a new conversation is bound to: the
records to link (primary first), or a new lead or contact to make, a phone or e-mail match to
suggest, the history payload. It writes nothing. The services (`conversations/services/crm.py`)
write the decision inside their transaction, so a conversation never exists half-bound, and
nothing here imports or calls them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import phonenumbers
from django.db import connection
from django.db.models import Count
from django.utils.translation import gettext as _

from convodesk.conversations.normalize import normalize_email, normalize_phone
from convodesk.lines.models import Connection, Line

from .models import (
    Contact,
    ContactEmail,
    ContactIdentity,
    ContactPhone,
    Deal,
    Lead,
)


@dataclass(frozen=True)
class Match:
    record: Contact | Lead
    by: str  # identity, phone, email


def phone_keys(raw: str, country: str = "") -> list[str]:
    """The stored forms a phone can match: its normalised form, and its national number
    (for records whose country could not be inferred when they were typed in)."""
    if not raw:
        return []
    keys = {normalize_phone(raw, country)}
    normalized = next(iter(keys))
    if normalized.startswith("+"):
        try:
            keys.add(str(phonenumbers.parse(normalized).national_number))
        except phonenumbers.NumberParseException:
            pass
    return sorted(k for k in keys if k)


def default_country() -> str:
    """The country used for phones typed into the CRM by hand: the most common line country."""
    row = Line.objects.values("default_country").annotate(n=Count("id")).order_by("-n").first()
    return row["default_country"] if row else ""


def find_contact(
    connection_id: int,
    external_id: str,
    phones: list[str],
    email: str,
    *,
    holds_phones: list[str] = (),
    holds_email: str = "",
) -> Match | None:
    """Channel identity first, then phone, then e-mail: one query, each branch an index look-up.
    Without an external id, by phone and e-mail only (a suggestion); without either, by identity.

    `holds_phones` / `holds_email`: the same query also says whether the contact found already
    keeps that phone (any of its stored forms) or e-mail, verified or not (`record.has_phone`,
    `record.has_email`), so the binding knows what the contact is to learn without a read more."""
    q = connection.ops.quote_name
    branches, params = [], []
    contact = q(Contact._meta.db_table)
    holds, holds_params = [], []
    for name, model, values in (
        ("has_phone", ContactPhone, list(holds_phones)),
        ("has_email", ContactEmail, [holds_email] if holds_email else []),
    ):
        if values:
            holds.append(
                f"EXISTS(SELECT 1 FROM {q(model._meta.db_table)} held WHERE held.contact_id = "
                f"{contact}.id AND held.normalized IN ({', '.join(['%s'] * len(values))})) "
                f"AS {name}"
            )
            holds_params += values
        else:
            holds.append(f"0 AS {name}")
    if external_id:
        branches.append(
            f"SELECT 1 AS prio, id AS row_id, contact_id FROM {q(ContactIdentity._meta.db_table)} "
            f"WHERE connection_id = %s AND external_id = %s"
        )
        params += [connection_id, external_id]
    if phones:
        branches.append(
            f"SELECT 2 AS prio, id AS row_id, contact_id FROM {q(ContactPhone._meta.db_table)} "
            f"WHERE normalized IN ({', '.join(['%s'] * len(phones))}) AND verified"
        )
        params += phones
    if email:
        branches.append(
            f"SELECT 3 AS prio, id AS row_id, contact_id FROM {q(ContactEmail._meta.db_table)} "
            f"WHERE normalized = %s AND verified"
        )
        params.append(email)
    if not branches:
        return None
    sql = (
        f"SELECT {contact}.*, found.prio AS match_prio, {', '.join(holds)} FROM {contact} "
        f"INNER JOIN ({' UNION ALL '.join(branches)}) found ON found.contact_id = {contact}.id "
        f"ORDER BY found.prio, found.row_id LIMIT 1"
    )
    for row in Contact.objects.raw(sql, holds_params + params):
        return Match(row, _MATCHED_BY[row.match_prio])
    return None


_MATCHED_BY = {1: "identity", 2: "phone", 3: "email"}


def find_open_lead(
    connection_id: int, external_id: str, phones: list[str], email: str
) -> Match | None:
    """A client with no contact yet may already have an open lead from an earlier conversation.

    Identity first, then phone, then e-mail: one query, each branch on an open-lead partial index.
    """
    q = connection.ops.quote_name
    table = q(Lead._meta.db_table)
    open_statuses = list(Lead.OPEN_STATUSES)
    is_open = f"status IN ({', '.join(['%s'] * len(open_statuses))})"
    branches, params = [], []
    if external_id:
        branches.append(
            f"SELECT 1 AS prio, id FROM {table} WHERE {is_open} "
            f"AND connection_id = %s AND external_id = %s"
        )
        params += [*open_statuses, connection_id, external_id]
    if phones:
        branches.append(
            f"SELECT 2 AS prio, id FROM {table} WHERE {is_open} "
            f"AND phone_normalized IN ({', '.join(['%s'] * len(phones))}) AND contact_data_verified"
        )
        params += [*open_statuses, *phones]
    if email:
        branches.append(
            f"SELECT 3 AS prio, id FROM {table} WHERE {is_open} AND email_normalized = %s "
            f"AND contact_data_verified"
        )
        params += [*open_statuses, email]
    if not branches:
        return None
    # The lead itself read with the same statement (raw, as the branches vary), locked, so a
    # lead being converted right now is waited for; once converted it is no longer open and the
    # look-up runs again without it.
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    sql = (
        f"SELECT * FROM {table} WHERE id = (SELECT found.id FROM "
        f"({' UNION ALL '.join(branches)}) found ORDER BY found.prio, found.id LIMIT 1){lock}"
    )
    for _attempt in range(3):
        lead = next(iter(Lead.objects.raw(sql, params)), None)
        if lead is None:
            return None
        if lead.status in Lead.OPEN_STATUSES:
            return Match(lead, _lead_matched_by(lead, connection_id, external_id, phones, email))
    return None


def _lead_matched_by(lead, connection_id, external_id, phones, email) -> str:
    if external_id and lead.connection_id == connection_id and lead.external_id == external_id:
        return "identity"
    if phones and lead.phone_normalized in phones:
        return "phone"
    return "email"


def open_deal(contact: Contact) -> Deal | None:
    return Deal.objects.filter(contact=contact, stage__in=Deal.OPEN_STAGES).order_by("-id").first()


def related_records(primary) -> list:
    """The primary record first, then what it implies: a contact's company, a deal's contact and company."""
    records = [primary]
    if isinstance(primary, Deal):
        records += [r for r in (primary.contact, primary.company) if r is not None]
    elif isinstance(primary, Contact) and primary.company_id:
        records.append(primary.company)
    return records


def activity_subject(conversation) -> str:
    return _("Open channel conversation #%(id)s — %(client)s") % {
        "id": conversation.pk,
        "client": conversation.client.name,
    }


@dataclass
class NewContact:
    """A contact to make for the client: unsaved, with the identity, phone and e-mail to add."""

    contact: Contact
    connection_id: int
    external_id: str
    phone: str
    email: str
    country: str
    verified: bool

    @property
    def entity_type(self) -> str:
        return "contact"


@dataclass
class ClientData:
    """What a matched contact learns from the client, as a manual bind adds it: the channel
    identity it does not hold yet, and the phone and e-mail it lacks. Verified channels add
    them as verified; data the client typed (`typed_by_client`) is proposed: kept, shown as
    unverified, never matched on. `source_id`: the connection they came from."""

    contact: Contact
    source_id: int
    external_id: str = ""  # the identity to add; empty when the contact already holds it
    phone: tuple[str, str] | None = None  # (as written, normalised)
    email: tuple[str, str] | None = None
    verified: bool = True

    def __bool__(self) -> bool:
        return bool(self.external_id or self.phone or self.email)

    def learned(self) -> dict:
        """For the `crm_bound` event: what the contact was given."""
        return {
            "identity": bool(self.external_id),
            "phone": self.phone[0] if self.phone else "",
            "email": self.email[0] if self.email else "",
            "verified": self.verified,
        }


@dataclass
class Decision:
    """What a new conversation is bound to. `records`: existing records to link, primary first
    (empty when `new` is to be made and linked alone). `learn`: the client's data the matched
    contact is to be given. `suggest`: a record the client's typed data points at."""

    records: list = field(default_factory=list)
    new: Lead | NewContact | None = None
    learn: ClientData | None = None
    suggest: Match | None = None
    payload: dict = field(default_factory=dict)


def _client_data(contact, match, conversation, phones, email, verified) -> ClientData | None:
    """The client's identity, phone and e-mail the matched contact does not keep yet."""
    client, identity = conversation.client, conversation.identity
    data = ClientData(contact=contact, source_id=identity.connection_id, verified=verified)
    if match.by != "identity" and identity.external_id:
        data.external_id = identity.external_id
    if phones and not contact.has_phone:
        # Stored as `Contact.add_phone` stores it (the line's country for a national number).
        normalized = normalize_phone(client.phone, conversation.line.default_country)
        data.phone = (client.phone.strip()[:64], normalized)
    if email and not contact.has_email:
        data.email = (client.email.strip()[:254], email)
    return data or None


def _new_lead(conversation, country: str) -> Lead:
    client, identity = conversation.client, conversation.identity
    lead = Lead(
        title=_("%(client)s (%(line)s)") % {"client": client.name, "line": conversation.line.name},
        line=conversation.line,
        name=client.name,
        connection_id=identity.connection_id,
        external_id=identity.external_id,
        responsible_id=conversation.responsible_id,
    )
    lead.title = lead.title[:255]
    lead.set_contact_data(client.phone, client.email, country)
    lead.contact_data_verified = not typed_by_client(conversation)
    return lead


def _new_contact(conversation, country: str, responsible_id) -> NewContact:
    client, identity = conversation.client, conversation.identity
    return NewContact(
        contact=Contact(name=client.name, responsible_id=responsible_id),
        connection_id=identity.connection_id,
        external_id=identity.external_id,
        phone=client.phone,
        email=client.email,
        country=country,
        verified=not typed_by_client(conversation),
    )


def typed_by_client(conversation) -> bool:
    """Contact data the client typed in themselves (the web chat widget's name, e-mail and
    phone fields) is a claim nobody checked. Verified channels (a Telegram id, an e-mail's
    From after the mailbox's checks, an API connector's data) vouch for theirs."""
    return conversation.connection.kind == Connection.Kind.LIVECHAT


def _suggestion(phones: list[str], email: str) -> Match | None:
    """A record the client's typed data points at, for an employee to confirm."""
    if not phones and not email:
        return None
    return find_contact(None, "", phones, email) or find_open_lead(None, "", phones, email)


def decide_new_conversation(conversation, unassigned_responsible=None) -> Decision | None:
    """How a just-started conversation is bound by its line's rules; None when the line says
    to create nothing and no record matches.

    `conversation.responsible_id` is who holds it once offered (a new lead is theirs, as the
    activity is); `unassigned_responsible` is the responsible a new contact gets (the
    conversation's before its first offer).

    Data the client typed in (`typed_by_client`) binds by the channel identity alone: a phone
    or e-mail that belongs to an existing record is only suggested (`MatchSuggestion`), and a
    new lead or contact is made by the line's rule as if nothing matched."""
    line, client, identity = conversation.line, conversation.client, conversation.identity
    country = line.default_country
    phones = phone_keys(client.phone, country)
    email = client.email_normalized or normalize_email(client.email)
    decision = Decision()
    typed = typed_by_client(conversation)
    # Typed data looks records up by the channel identity alone (see the docstring).
    lookup_phones, lookup_email = ([], "") if typed else (phones, email)
    match = find_contact(
        identity.connection_id,
        identity.external_id,
        lookup_phones,
        lookup_email,
        holds_phones=phones,
        holds_email=email,
    )
    if match is not None:
        contact = match.record
        decision.learn = _client_data(contact, match, conversation, phones, email, not typed)
        decision.records = related_records(contact)
        if line.crm_bind_open_deal:
            deal = open_deal(contact)
            if deal is not None:
                decision.records.insert(1, deal)
        decision.payload["matched_by"] = match.by
        return decision
    match = find_open_lead(
        identity.connection_id, identity.external_id, lookup_phones, lookup_email
    )
    if match is None and typed:
        decision.suggest = _suggestion(phones, email)
        if decision.suggest is not None:
            decision.payload["suggested"] = True
    if match is not None:
        decision.records, decision.payload["matched_by"] = [match.record], match.by
    elif line.crm_binding == Line.CrmBinding.LEAD:
        decision.new, decision.payload["created"] = _new_lead(conversation, country), "lead"
    elif line.crm_binding == Line.CrmBinding.CONTACT:
        decision.new = _new_contact(conversation, country, unassigned_responsible)
        decision.payload["created"] = "contact"
    elif decision.suggest is not None:
        return Decision(suggest=decision.suggest)  # a suggestion kept, nothing bound
    else:
        return None
    return decision
