"""The one column registry (DESIGN rule 3).

Every list column is declared once: its stable key, translated label, what it reads, whether
it sorts, and how it is shown in HTML, written to Excel and returned by the API. The grid,
the column picker, sorting, the export and the API all read `COLUMNS`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape as html_escape
from typing import Any

from django.utils import timezone, translation
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _

from convodesk import display, links
from convodesk.lines.models import Connection

from . import lifecycle
from .lifecycle import SIMPLE_LABELS, STATUS_KEYS, STATUS_LABELS, Status

EMPTY = "–"
CRM_PATHS = {
    "contact": "contacts",
    "company": "companies",
    "lead": "leads",
    "deal": "deals",
    "activity": "activities",
}
CRM_LABELS = {
    "contact": _("Contact"),
    "company": _("Company"),
    "lead": _("Lead"),
    "deal": _("Deal"),
}


def humanize_duration(seconds: int | None) -> str:
    """1 h 05 min 12 s; the units read the same in English and Spanish."""
    if seconds is None:
        return EMPTY
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min {secs:02d} s"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def local(value: dt.datetime | None, tz=None) -> dt.datetime | None:
    if value is None:
        return None
    return timezone.localtime(value, tz)


_LABEL_TEXTS: dict[tuple[str | None, int], str] = {}
YES, NO = _("Yes"), _("No")
LIKE, DISLIKE = _("Like"), _("Dislike")


def label_text(label) -> str:
    """The text of a module-level lazy label in the active language, translated once per language.

    An export writes millions of cells; translating the same label for each cost a third of its
    Python time. Only for labels that live as long as the process (their id() is the key).
    """
    key = (translation.get_language(), id(label))
    text = _LABEL_TEXTS.get(key)
    if text is None:
        text = _LABEL_TEXTS[key] = str(label)
    return text


def format_local(value: dt.datetime | None) -> str:
    """The one way a date and time reads on every screen (convodesk.display.when)."""
    return display.when(value)


def ref(obj, name_attr: str = "name") -> dict | None:
    return None if obj is None else {"id": obj.pk, "name": getattr(obj, name_attr)}


def with_crm_links(queryset):
    """Each row's bound CRM records, primary first, where the CRM column reads them
    (`prefetched_crm_links`): one query for the whole page or chunk."""
    from django.db.models import Prefetch

    from .models import ConversationCrmLink

    return queryset.prefetch_related(
        Prefetch(
            "crm_links",
            queryset=ConversationCrmLink.objects.order_by("-is_primary", "id"),
            to_attr="prefetched_crm_links",
        )
    )


def with_tags(queryset):
    """Each row's tags by name (`prefetched_tags`), where the tags column reads them."""
    from django.db.models import Prefetch

    from .models import Tag

    return queryset.prefetch_related(
        Prefetch("tags", queryset=Tag.objects.order_by("name", "id"), to_attr="prefetched_tags")
    )


def tags_of(conv) -> list:
    tags = getattr(conv, "prefetched_tags", None)
    if tags is None:
        tags = list(conv.tags.order_by("name", "id")) if conv.pk else []
    return tags


def _tag_names(conversation_ids) -> dict[int, str]:
    """{conversation id: its tag names, comma-separated, in name order} for a chunk of ids."""
    from .models import ConversationTag

    names: dict[int, list[str]] = {}
    links = ConversationTag.objects.filter(conversation_id__in=conversation_ids)
    for conversation_id, name in links.order_by("tag__name", "tag_id").values_list(
        "conversation_id", "tag__name"
    ):
        names.setdefault(conversation_id, []).append(name)
    return {conversation_id: ", ".join(tags) for conversation_id, tags in names.items()}


def _tags_html(conv) -> str:
    tags = tags_of(conv)
    if not tags:
        return EMPTY
    return format_html_join(
        " ", '<span class="tag tag-{}">{}</span>', ((t.colour, t.name) for t in tags)
    )


def crm_text(conv) -> str:
    return _crm_text_of(conv.crm_entity_type, conv.crm_entity_id, conv.crm_title) or ""


def _crm_text_of(entity_type, entity_id, title):
    """crm_text from the three fields (the export reads values, not instances)."""
    if not entity_type:
        return None
    label = CRM_LABELS.get(entity_type, entity_type.title())
    return f"{label} #{entity_id}" + (f" — {title}" if title else "")


def history_url(conversation_id) -> str:
    return links.id_path("conversations:history", conversation_id)


def crm_url(entity_type: str, entity_id) -> str:
    """The CRM card of a record ("" for an unknown type, which has no card)."""
    segment = CRM_PATHS.get(entity_type)
    return links.id_path("crm:card", entity_id, segment) if segment else ""


# Kinds decide the default HTML, Excel and API rendering of a value --------------------

KIND_INT, KIND_DURATION, KIND_DATETIME, KIND_TEXT = "int", "duration", "datetime", "text"
KIND_BOOL, KIND_REF, KIND_CHOICE, KIND_RATING, KIND_STARS = (
    "bool",
    "ref",
    "choice",
    "rating",
    "stars",
)


@dataclass(frozen=True)
class Column:
    key: str
    label: Any
    kind: str
    get: Callable[[Any], Any]
    sort: str | None = None  # the model field ordered by; None = not sortable
    related: tuple[str, ...] = ()  # select_related paths the value needs
    description: Any = ""  # the header tooltip
    html: Callable[[Any], str] | None = None
    excel: Callable[[Any], Any] | None = None
    api: Callable[[Any], dict] | None = None
    align: str = "left"
    extra: dict = field(default_factory=dict)
    prefetch: tuple = ()  # prefetch_related lookups the value needs (prefetch_for)
    # The export reads value tuples, not model instances (issue 23 item 4): `source` names the
    # fields the Excel value needs (values_list paths; default: the column's key), and
    # `excel_from(tz)`, called once per export, returns the function of those values that gives
    # what `excel_value` gives for the row (default: by kind). `excel_per_chunk(ids)` reads a
    # value kept in another table for a chunk of conversation ids at once ({id: value}).
    source: tuple[str, ...] = ()
    excel_from: Callable[[Any], Callable[..., Any]] | None = None
    excel_per_chunk: Callable[[list[int]], dict] | None = None
    # What the cell's HTML depends on, when two rows with the same such value read the same in
    # one page (one language, one time zone): the grid renders such a cell once per distinct
    # value per page (views/rows.PageCells). None: rendered for every row.
    memo: Callable[[Any], Any] | None = None
    # What the grid's cell reads beyond `fields` (its HTML: the client's phone and e-mail in
    # the tooltip, the comment beside the stars). The grid loads only these (views/rows.grid_fields).
    shows: tuple[str, ...] = ()

    @property
    def sortable(self) -> bool:
        return self.sort is not None

    def render_html(self, conv, when=None) -> str:
        """The cell's HTML; `when` is display.when or what display.when_function() made for
        the page (the same text, with the language and time zone looked up once)."""
        if self.html is not None:
            return self.html(conv)
        value = self.get(conv)
        if value is None or value == "":
            return EMPTY
        if self.kind == KIND_DURATION:
            return humanize_duration(value)
        if self.kind == KIND_DATETIME:
            return (when or format_local)(value)
        if self.kind == KIND_BOOL:
            return _g("Yes") if value else _g("No")
        if self.kind == KIND_REF:
            return value.get("name", EMPTY) if isinstance(value, dict) else str(value)
        return format_html("{}", value)

    def excel_value(self, conv, tz=None):
        """The value XlsxWriter writes: datetimes naive in `tz` (default: the active zone),
        durations as days."""
        if self.excel is not None:
            return self.excel(conv)
        value = self.get(conv)
        if value is None:
            return None
        if self.kind == KIND_DATETIME:
            return local(value, tz).replace(tzinfo=None)
        if self.kind == KIND_DURATION:
            return value / 86400
        if self.kind == KIND_BOOL:
            return label_text(YES if value else NO)
        if self.kind == KIND_REF:
            return value["name"] if isinstance(value, dict) else str(value)
        return value

    @property
    def fields(self) -> tuple[str, ...]:
        """What the export reads for this column (values_list paths)."""
        return self.source or (self.key,)

    def excel_converter(self, tz=None) -> Callable[..., Any]:
        """A function of `fields`' values giving `excel_value` for the row, built once per export
        in the active language and `tz` (default: the active zone)."""
        if self.excel_from is not None:
            return self.excel_from(tz)
        if self.kind == KIND_DATETIME:
            zone = tz or timezone.get_current_timezone()
            return lambda v: None if v is None else v.astimezone(zone).replace(tzinfo=None)
        if self.kind == KIND_DURATION:
            return lambda v: None if v is None else v / 86400
        if self.kind == KIND_BOOL:
            yes, no = str(YES), str(NO)
            return lambda v: None if v is None else yes if v else no
        if self.kind == KIND_REF:
            return lambda v: None if v is None else str(v)
        return _same

    def api_value(self, conv) -> dict:
        if self.api is not None:
            return self.api(conv)
        value = self.get(conv)
        if isinstance(value, dt.datetime):
            value = value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        return {self.key: value}


def _same(value):
    return value


def _labels(mapping, key_of=None, other=None):
    """excel_from for a choice: the label of the stored value in the active language, the texts
    made once per export. A value outside `mapping` gives `other(value)` (default: nothing)."""

    def build(tz):
        texts = {value: str(label) for value, label in mapping.items()}
        if key_of is not None:  # few stored values: one look-up for each
            texts = {code: texts[key_of(code)] for code in Status}
        return lambda v: texts[v] if v in texts else other(v) if other and v else None

    return build


def _person_name(display_name, first_name, last_name, username):
    """User.name from its fields (display name, else the full name, else the username)."""
    if display_name is None and username is None:
        return None
    return display_name or f"{first_name} {last_name}".strip() or username


PERSON = ("display_name", "first_name", "last_name", "username")


def _status_badge(conv) -> str:
    simple = lifecycle.simple_status(conv.status)
    return format_html('<span class="badge badge-{}">{}</span>', simple, SIMPLE_LABELS[simple])


def _detail_badge(conv) -> str:
    key = STATUS_KEYS[Status(conv.status)]
    return format_html(
        '<span class="badge badge-detail badge-{}">{}</span>',
        key,
        STATUS_LABELS[Status(conv.status)],
    )


def _client_html(conv) -> str:
    client = conv.client
    contact = " · ".join(x for x in (client.phone, client.email) if x)
    # format_html's output, with the two texts escaped directly (a cell of every grid row)
    return mark_safe(
        f'<span class="client" title="{html_escape(contact)}">{html_escape(client.name)}</span>'
    )


def _id_html(conv) -> str:
    pk = int(conv.pk)
    return mark_safe(f'<a href="{html_escape(history_url(pk))}">{pk}</a>')


def _crm_html(conv) -> str:
    """A link per bound record (primary first, when the list prefetched them) plus the activity."""
    links = getattr(conv, "prefetched_crm_links", None)
    if links:
        records = [
            (
                crm_url(link.entity_type, link.entity_id),
                f"{CRM_LABELS.get(link.entity_type, link.entity_type.title())} #{link.entity_id}"
                + (f" — {link.title}" if link.title else ""),
            )
            for link in sorted(links, key=lambda link: (not link.is_primary, link.pk))
        ]
    elif conv.crm_entity_type:
        records = [(crm_url(conv.crm_entity_type, conv.crm_entity_id), crm_text(conv))]
    else:
        records = []
    if conv.crm_activity_id:
        records.append(
            (
                crm_url("activity", conv.crm_activity_id),
                _g("Activity") + f" #{conv.crm_activity_id}",
            )
        )
    if not records:
        return EMPTY
    return format_html_join(", ", '<a href="{0}" title="{1}">{1}</a>', records)


def _crm_api(conv) -> dict:
    links = getattr(conv, "prefetched_crm_links", None)
    if links is None:
        links = list(conv.crm_links.all())
    return {
        "crm_record": crm_text(conv) or None,
        "crm_entity_type": conv.crm_entity_type or None,
        "crm_entity_id": conv.crm_entity_id,
        "crm_title": conv.crm_title or None,
        "crm_records": [
            {"type": link.entity_type, "id": link.entity_id, "title": link.title} for link in links
        ],
    }


def _activity_html(conv) -> str:
    if not conv.crm_activity_id:
        return EMPTY
    return format_html(
        '<a href="{}">#{}</a>', crm_url("activity", conv.crm_activity_id), conv.crm_activity_id
    )


def _rating_value(conv):
    return {1: "like", -1: "dislike"}.get(conv.client_rating)


def _rating_label(conv) -> str:
    label = {1: LIKE, -1: DISLIKE}.get(conv.client_rating)
    return label_text(label) if label is not None else ""


def icon(name: str, label: str = "") -> str:
    """An SVG icon (static/convodesk/icons/, drawn by app.css): no emoji, which a machine without
    an emoji font shows as boxes. Labelled for screen readers when it stands for a value."""
    if label:
        return format_html(
            '<i class="icon icon-{}" role="img" aria-label="{}" title="{}"></i>', name, label, label
        )
    return format_html('<i class="icon icon-{}" aria-hidden="true"></i>', name)


def stars_icons(rating: int, comment: str = "") -> str:
    """0–5 stars as one element (app.css draws filled and empty stars as SVG)."""
    label = _g("%(n)s of 5 stars") % {"n": rating} if rating else _g("Not rated")
    if comment:
        return format_html(
            '<i class="stars stars-{}" role="img" aria-label="{}" title="{} — {}"></i>',
            rating,
            label,
            label,
            comment,
        )
    return format_html('<i class="stars stars-{}" role="img" aria-label="{}"></i>', rating, label)


def _rating_html(conv) -> str:
    if conv.client_rating is None:
        return EMPTY
    return icon("like" if conv.client_rating == 1 else "dislike", _rating_label(conv))


def _stars_html(conv) -> str:
    if conv.supervisor_rating is None:
        return EMPTY
    return stars_icons(conv.supervisor_rating, conv.supervisor_comment)


def _choice(label_map):
    return lambda value: str(label_map.get(value, value)) if value else EMPTY


def _col(key, label, kind, get, **kw) -> Column:
    return Column(key=key, label=label, kind=kind, get=get, **kw)


def _date(key, label, description=""):
    return _col(
        key, label, KIND_DATETIME, lambda c, k=key: getattr(c, k), sort=key, description=description
    )


# The four time metrics: the one list of their names. The statistics store them by position
# (stats.models.METRICS, RollupBucket.metric), so new ones go at the end.
METRIC_KEYS = ["agent_response_time", "first_answer_wait", "duration", "time_to_agent_close"]
INCOMING_METRIC_KEYS = METRIC_KEYS[:2]  # measured for incoming conversations only
# The same four counted in business hours (the open channel's calendar, lines/calendar.py).
BUSINESS_METRIC_KEYS = list(lifecycle.BUSINESS_METRIC_KEYS)


def _due_html(conv) -> str:
    """“in 12 min” or “overdue by 5 min”, against the reply-time target of the current wait."""
    if conv.due_at is None:
        return EMPTY
    seconds = int((conv.due_at - timezone.now()).total_seconds())
    if seconds > 0:
        text = _g("in %(time)s") % {"time": humanize_duration(seconds)}
        return format_html(
            '<span class="due" title="{}">{}</span>', format_local(conv.due_at), text
        )
    text = _g("overdue by %(time)s") % {"time": humanize_duration(-seconds)}
    return format_html(
        '<span class="due due-over" title="{}">{}</span>', format_local(conv.due_at), text
    )


def _metric(key, label, description):
    return _col(
        key,
        label,
        KIND_DURATION,
        lambda c, k=key: getattr(c, k),
        sort=key,
        description=description,
        align="right",
        memo=lambda c, k=key: getattr(c, k),
    )


TYPE_LABELS = dict([(lifecycle.INCOMING, _("Incoming")), (lifecycle.OUTGOING, _("Outgoing"))])
CHANNEL_LABELS = dict(Connection.Kind.choices)  # the channel kinds are the connections' kinds
CLOSED_BY_LABELS = {
    "employee": _("Employee"),
    "automatic": _("Automatically"),
    "system": _("System"),
}


_COLUMN_LIST = [
    _col(
        "id",
        _("ID"),
        KIND_INT,
        lambda c: c.pk,
        sort="id",
        align="right",
        html=_id_html,
    ),
    _col(
        "type",
        _("Type"),
        KIND_CHOICE,
        lambda c: c.type,
        sort="type",
        html=lambda c: _choice(TYPE_LABELS)(c.type),
        memo=lambda c: c.type,
        excel=lambda c: label_text(TYPE_LABELS[c.type]),
        excel_from=_labels(TYPE_LABELS),
    ),
    _col(
        "status",
        _("Status"),
        KIND_CHOICE,
        lambda c: lifecycle.simple_status(c.status),
        sort="status",
        html=_status_badge,
        memo=lambda c: c.status,
        excel=lambda c: label_text(SIMPLE_LABELS[lifecycle.simple_status(c.status)]),
        excel_from=_labels(SIMPLE_LABELS, key_of=lifecycle.simple_status),
    ),
    _col(
        "status_detail",
        _("Status (detailed)"),
        KIND_CHOICE,
        lambda c: STATUS_KEYS[Status(c.status)],
        sort="status",
        html=_detail_badge,
        memo=lambda c: c.status,
        excel=lambda c: label_text(STATUS_LABELS[Status(c.status)]),
        source=("status",),
        excel_from=_labels(STATUS_LABELS, key_of=Status),
        api=lambda c: {
            "status_detail": STATUS_KEYS[Status(c.status)],
            "status_detail_code": c.status,
        },
    ),
    _col(
        "channel",
        _("Channel"),
        KIND_CHOICE,
        lambda c: c.channel,
        sort="channel",
        memo=lambda c: c.channel,
        html=lambda c: format_html(
            '<span class="chan chan-{}">{}</span>',
            c.channel,
            CHANNEL_LABELS.get(c.channel, c.channel),
        ),
        excel=lambda c: (
            label_text(CHANNEL_LABELS[c.channel]) if c.channel in CHANNEL_LABELS else c.channel
        ),
        excel_from=_labels(CHANNEL_LABELS, other=_same),
    ),
    _col(
        "connection",
        _("Connection"),
        KIND_REF,
        lambda c: ref(c.connection),
        related=("connection",),
        source=("connection__name",),
        memo=lambda c: c.connection_id,
    ),
    _col(
        "line",
        _("Open channel"),
        KIND_REF,
        lambda c: ref(c.line),
        sort="line__name",
        related=("line",),
        source=("line__name",),
        memo=lambda c: c.line_id,
    ),
    _col(
        "client",
        _("Client"),
        KIND_REF,
        lambda c: ref(c.client),
        related=("client",),
        html=_client_html,
        source=("client__name",),
        shows=("client__phone", "client__email"),
    ),
    _col(
        "client_phone",
        _("Client phone"),
        KIND_TEXT,
        lambda c: c.client.phone or None,
        related=("client",),
        source=("client__phone",),
    ),
    _col(
        "client_email",
        _("Client e-mail"),
        KIND_TEXT,
        lambda c: c.client.email or None,
        related=("client",),
        source=("client__email",),
    ),
    _col(
        "crm_record",
        _("CRM record"),
        KIND_TEXT,
        lambda c: crm_text(c) or None,
        html=_crm_html,
        api=_crm_api,
        excel=lambda c: crm_text(c) or None,
        source=("crm_entity_type", "crm_entity_id", "crm_title"),
        excel_from=lambda tz: _crm_text_of,
    ),
    _col(
        "crm_activity",
        _("CRM activity"),
        KIND_TEXT,
        lambda c: c.crm_activity_id,
        html=_activity_html,
        api=lambda c: {"crm_activity_id": c.crm_activity_id},
        excel=lambda c: f"#{c.crm_activity_id}" if c.crm_activity_id else None,
        source=("crm_activity_id",),
        excel_from=lambda tz: lambda v: f"#{v}" if v else None,
    ),
    _col(
        "responsible",
        _("Responsible employee"),
        KIND_REF,
        lambda c: ref(c.responsible),
        sort="responsible__username",
        related=("responsible",),
        source=tuple(f"responsible__{name}" for name in PERSON),
        excel_from=lambda tz: _person_name,
        memo=lambda c: c.responsible_id,
    ),
    _date("started_at", _("Started")),
    _date("taken_at", _("Taken")),
    _date("last_message_at", _("Last message")),
    _date("closed_at", _("Closed")),
    _col(
        "closed_by",
        _("Closed by"),
        KIND_CHOICE,
        lambda c: c.closed_by or None,
        html=lambda c: _choice(CLOSED_BY_LABELS)(c.closed_by),
        memo=lambda c: c.closed_by,
        excel=lambda c: label_text(CLOSED_BY_LABELS[c.closed_by]) if c.closed_by else None,
        excel_from=_labels(CLOSED_BY_LABELS),
    ),
    _date(
        "waiting_since", _("Waiting since"), _("Start of the client's current unanswered period")
    ),
    _col(
        "message_count",
        _("Messages"),
        KIND_INT,
        lambda c: c.message_count,
        sort="message_count",
        align="right",
    ),
    _metric(
        "agent_response_time",
        _("Agent response time"),
        _("From the start of the conversation to the first time an employee took it"),
    ),
    _metric(
        "first_answer_wait",
        _("Waiting for the agent's answer"),
        _("From the start of the conversation to the first employee message to the client"),
    ),
    _metric(
        "duration",
        _("Conversation duration"),
        _("From the start of the conversation to the last client or employee message"),
    ),
    _metric(
        "time_to_agent_close",
        _("Duration until agent closed"),
        _("From the start of the conversation to the moment an employee closed it"),
    ),
    _col(
        "client_rating",
        _("Client rating"),
        KIND_RATING,
        _rating_value,
        sort="client_rating",
        html=_rating_html,
        memo=lambda c: c.client_rating,
        excel=lambda c: _rating_label(c) or None,
        excel_from=_labels({1: LIKE, -1: DISLIKE}),
    ),
    _col(
        "supervisor_rating",
        _("Supervisor rating"),
        KIND_STARS,
        lambda c: c.supervisor_rating,
        sort="supervisor_rating",
        html=_stars_html,
        memo=lambda c: (c.supervisor_rating, c.supervisor_comment),
        shows=("supervisor_comment",),
    ),
    _col(
        "supervisor_comment",
        _("Supervisor comment"),
        KIND_TEXT,
        lambda c: c.supervisor_comment or None,
    ),
    _col("spam", _("Spam"), KIND_BOOL, lambda c: c.spam, memo=lambda c: c.spam),
    _col(
        "tags",
        _("Tags"),
        KIND_TEXT,
        lambda c: ", ".join(t.name for t in tags_of(c)) or None,
        html=_tags_html,
        api=lambda c: {
            "tags": [{"id": t.pk, "name": t.name, "colour": t.colour} for t in tags_of(c)]
        },
        prefetch=("tags",),
        source=("id",),
        excel_from=lambda tz: _same,
        excel_per_chunk=lambda ids: _tag_names(ids),
    ),
    _col(
        "close_reason",
        _("Close reason"),
        KIND_REF,
        lambda c: ref(c.close_reason),
        related=("close_reason",),
        source=("close_reason__name",),
        memo=lambda c: c.close_reason_id,
        description=_("Why an employee closed the conversation"),
    ),
    _col(
        "transfer_count",
        _("Transfers"),
        KIND_INT,
        lambda c: c.transfer_count,
        sort="transfer_count",
        align="right",
    ),
    _col(
        "excerpt",
        _("First message"),
        KIND_TEXT,
        lambda c: c.excerpt or None,
        html=lambda c: (
            format_html('<span class="excerpt" title="{}">{}</span>', c.excerpt, c.excerpt[:80])
            if c.excerpt
            else EMPTY
        ),
    ),
    _date("assigned_at", _("Assigned"), _("First offered to an employee")),
    _date("first_reply_at", _("First reply")),
    _date("agent_closed_at", _("Agent closed")),
    _date("updated_at", _("Updated")),
    _metric(
        "reply_time_first",
        _("First reply time"),
        _("The first ended period in which the client waited for a reply"),
    ),
    _metric(
        "reply_time_total",
        _("Total reply time"),
        _("The sum of the ended periods in which the client waited"),
    ),
    _metric(
        "reply_time_avg",
        _("Average reply time"),
        _("The average of the ended periods in which the client waited"),
    ),
    _metric(
        "reply_time_max",
        _("Maximum reply time"),
        _("The longest ended period in which the client waited"),
    ),
    _metric(
        "agent_response_time_bh",
        _("Agent response time (business hours)"),
        _("Agent response time counting only the open channel's working hours"),
    ),
    _metric(
        "first_answer_wait_bh",
        _("Waiting for the agent's answer (business hours)"),
        _("Waiting for the agent's answer counting only the open channel's working hours"),
    ),
    _metric(
        "duration_bh",
        _("Conversation duration (business hours)"),
        _("Conversation duration counting only the open channel's working hours"),
    ),
    _metric(
        "time_to_agent_close_bh",
        _("Duration until agent closed (business hours)"),
        _("Duration until agent closed counting only the open channel's working hours"),
    ),
    _metric(
        "reply_time_first_bh",
        _("First reply time (business hours)"),
        _("First reply time counting only the open channel's working hours"),
    ),
    _metric(
        "reply_time_total_bh",
        _("Total reply time (business hours)"),
        _("Total reply time counting only the open channel's working hours"),
    ),
    _metric(
        "reply_time_avg_bh",
        _("Average reply time (business hours)"),
        _("Average reply time counting only the open channel's working hours"),
    ),
    _metric(
        "reply_time_max_bh",
        _("Maximum reply time (business hours)"),
        _("Maximum reply time counting only the open channel's working hours"),
    ),
    _col(
        "due_at",
        _("Due"),
        KIND_DATETIME,
        lambda c: c.due_at,
        sort="due_at",
        html=_due_html,
        api=lambda c: {
            "due_at": c.due_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
            if c.due_at
            else None,
            "overdue": c.is_overdue,
        },
        description=_(
            "Due in / overdue by: when the reply-time target of the client's current wait runs out"
        ),
    ),
    _col(
        "returning",
        _("Returning"),
        KIND_BOOL,
        lambda c: c.returning,
        memo=lambda c: c.returning,
        description=_("Not the client's first conversation on this open channel"),
    ),
    _col("pinned", _("Pinned"), KIND_BOOL, lambda c: c.pinned, memo=lambda c: c.pinned),
    _col(
        "business_hours",
        _("Business hours"),
        KIND_BOOL,
        lambda c: c.business_hours,
        memo=lambda c: c.business_hours,
        description=_("Started within the open channel's working hours"),
    ),
    _col(
        "source_url",
        _("Source page"),
        KIND_TEXT,
        lambda c: c.source_url or None,
        html=lambda c: (
            format_html('<span class="url" title="{}">{}</span>', c.source_url, c.source_url[:60])
            if c.source_url
            else EMPTY
        ),
    ),
]

COLUMNS: dict[str, Column] = {c.key: c for c in _COLUMN_LIST}

# What a new employee's list shows (issue 22): the ID and the client (sticky), the status, and
# the four metrics in view at 1440 px without scrolling; every other column is one tick away in the
# column picker. The export and the API use the same default.
DEFAULT_COLUMNS = [
    "id",
    "client",
    "status",
    "channel",
    "responsible",
    "due_at",
    *METRIC_KEYS,
    "started_at",
    "line",
    "client_rating",
    "supervisor_rating",
]
REPLY_TIME_KEYS = ["reply_time_first", "reply_time_total", "reply_time_avg", "reply_time_max"]
BUSINESS_REPLY_TIME_KEYS = [f"{k}_bh" for k in REPLY_TIME_KEYS]
SORTABLE = {c.key: c.sort for c in _COLUMN_LIST if c.sortable}


def clean_columns(keys) -> list[str]:
    """Known keys in the given order, without repeats; unknown or removed keys drop silently."""
    seen, result = set(), []
    for key in keys or ():
        if key in COLUMNS and key not in seen:
            seen.add(key)
            result.append(key)
    return result


def related_for(keys) -> list[str]:
    paths = set()
    for key in keys:
        paths.update(COLUMNS[key].related)
    return sorted(paths)


PREFETCHERS = {"tags": with_tags}


def prefetch_for(queryset, keys):
    """The queryset with what the requested columns read from other tables prefetched."""
    done = set()
    for key in keys:
        for name in COLUMNS[key].prefetch:
            if name not in done:
                done.add(name)
                queryset = PREFETCHERS[name](queryset)
    return queryset


def api_item(conv, keys=None) -> dict:
    """A conversation as the API returns it: every requested column by its stable key."""
    item = {}
    for key in keys or COLUMNS:
        item.update(COLUMNS[key].api_value(conv))
    return item
