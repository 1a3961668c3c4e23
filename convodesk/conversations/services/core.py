"""The transition core: who acts, the row lock, and one transaction's batch of writes.

Every service runs in `unit()`: one transaction and one `Batch`. The conversation row is locked
first; the pure state machine (`lifecycle.apply`) decides; what the change implies besides the
row is collected in the batch and written once when the unit ends:

- the conversation rows' changed columns, one UPDATE per conversation;
- the participant rows, one multi-row upsert (read once per conversation, changed in memory);
- the history events, one multi-row INSERT;
- the statistics, one upsert per rollup table (`stats.rollups.Deltas`);
- after commit, one call of `hooks.after_commit` (one live-event hint, the deliveries).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import Count, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from convodesk import rowsource
from convodesk.accounts.models import User
from convodesk.connectors import delivery
from convodesk.crm.models import Activity, Lead
from convodesk.prepared import Prepared
from convodesk.stats import rollups

from .. import hooks, lifecycle, visibility
from ..lifecycle import IllegalTransition, Rules, Status
from ..models import Conversation, ConversationEvent, ConversationParticipant, Message, ReplyPeriod
from ..normalize import clean, clean_data
from ..refusals import NotAllowed, NotFound  # noqa: F401 - the services' public names

log = logging.getLogger("convodesk.services")

EXCERPT_LENGTH = 200


class LineInactive(IllegalTransition, ValueError):
    """A message that would start a conversation on a deactivated open channel. The API answers
    409; Telegram and e-mail record it as a skipped message (a ValueError is the message's own
    fault) and go on with the next one."""

    def __init__(self):
        super().__init__(
            "line_inactive",
            _("This open channel is deactivated: it starts no new conversations."),
        )


@dataclass(frozen=True)
class Actor:
    """Who acts: an employee (UI or own token), an integration's token, the system or a timer."""

    kind: str  # "employee", "integration", "system", "timer", "client"
    user: User | None = None

    @classmethod
    def of(cls, user: User) -> Actor:
        return cls("integration" if user.is_integration else "employee", user)

    @property
    def is_employee(self) -> bool:
        return self.kind == "employee"

    @property
    def user_id(self) -> int | None:
        return self.user.pk if self.user else None


SYSTEM = Actor("system")
TIMER = Actor("timer")
CLIENT = Actor("client")


def now_or(now: dt.datetime | None) -> dt.datetime:
    return now or timezone.now()


# The batch ------------------------------------------------------------------------------

PARTICIPANT_FLAGS = (
    "is_responsible",
    "was_responsible",
    "wrote",
    "offered_now",
    "ever_offered",
    "took",
    "joined",
    "skip_count",
    "sees",
)

_PARTICIPANTS = Prepared(
    lambda conversation_id: ConversationParticipant.objects.filter(conversation_id=conversation_id)
)


def _reply_sums(conversation_ids: list[int]):
    """(conversation, employee, periods, seconds, business seconds) of these conversations'
    reply periods: their part of the per-employee figures."""
    return (
        ReplyPeriod.objects.filter(conversation_id__in=conversation_ids, employee_id__isnull=False)
        .values("conversation_id", "employee_id")
        .annotate(
            n=Count("pk"), total=Sum("seconds"), business=Coalesce(Sum("business_seconds"), 0)
        )
        .values_list("conversation_id", "employee_id", "n", "total", "business")
        .order_by()
    )


_current: contextvars.ContextVar[Batch | None] = contextvars.ContextVar(
    "convodesk_batch", default=None
)


class Batch:
    """The writes of one service transaction besides the message and conversation inserts."""

    def __init__(self):
        self.rows: dict[int, tuple[Conversation, set[str]]] = {}
        self.people: dict[int, tuple[Conversation, dict[int, ConversationParticipant]]] = {}
        self.events: list[ConversationEvent] = []
        self.deltas = rollups.Deltas()
        self.deliveries: list[int] = []
        self.inserts: list = []  # rows nothing in the transaction reads back (a new conversation's links)
        self.activities: dict[int, Conversation] = {}  # CRM activity id -> the row it follows
        # Conversation id -> (the row, the Participation key part it counted under when the
        # transaction began): its figures' changes go there, and move with the whole when the
        # line or the closed state changed (`_moved_participation`).
        self.counted: dict[int, tuple[Conversation, tuple]] = {}

    # Conversation rows

    def touch(self, conversation: Conversation, fields) -> None:
        """These columns of the (locked or just inserted) row changed; written at the end."""
        _conv, dirty = self.rows.setdefault(id(conversation), (conversation, set()))
        dirty.update(fields)

    # Participants

    def counted_as(self, conversation: Conversation, line_id=None, closed=None) -> tuple:
        """The Participation key part the conversation's figures are under in the database (its
        line and closed state when the transaction first changed it; `line_id` and `closed`:
        what it had before a change made before this call)."""
        entry = self.counted.get(conversation.pk)
        if entry is None:
            where = rollups.participation_where(conversation, line_id, closed)
            entry = self.counted[conversation.pk] = (conversation, where)
        return entry[1]

    def participants(
        self, conversation: Conversation, new: bool = False
    ) -> dict[int, ConversationParticipant]:
        """Every participant row of the conversation by employee, read once per transaction
        (none for a conversation inserted in it: `new`). Change them in memory (`participant`
        adds one); the batch writes the changed ones."""
        entry = self.people.get(conversation.pk)
        if entry is None:
            rows = {}
            if not new:
                rows = {p.employee_id: p for p in _PARTICIPANTS(conversation.pk)}
                for p in rows.values():
                    p._loaded = {f: getattr(p, f) for f in PARTICIPANT_FLAGS}
            entry = self.people[conversation.pk] = (conversation, rows)
        return entry[1]

    def load_participants(self, conversations) -> None:
        """Read the participant rows of many conversations in one query (a timer sweep)."""
        wanted = {c.pk: c for c in conversations if c.pk not in self.people}
        if not wanted:
            return
        rows: dict[int, dict[int, ConversationParticipant]] = {pk: {} for pk in wanted}
        for p in ConversationParticipant.objects.filter(conversation_id__in=list(wanted)):
            p._loaded = {f: getattr(p, f) for f in PARTICIPANT_FLAGS}
            rows[p.conversation_id][p.employee_id] = p
        for pk, conversation in wanted.items():
            self.people[pk] = (conversation, rows[pk])

    def participant(self, conversation: Conversation, user_id: int) -> ConversationParticipant:
        rows = self.participants(conversation)
        if user_id not in rows:
            rows[user_id] = ConversationParticipant(
                conversation_id=conversation.pk,
                employee_id=user_id,
                started_at=conversation.started_at,
            )
        return rows[user_id]

    def insert(self, objects) -> None:
        """Rows to insert with the batch (one multi-row INSERT per call); their ids are not read."""
        if objects:
            self.inserts.append(list(objects))

    # Events and deliveries

    def record(self, conversation, kind, actor: Actor, at, from_status=None, payload=None):
        event = ConversationEvent(
            conversation_id=conversation.pk,
            kind=kind,
            actor=actor.user,
            actor_kind=actor.kind,
            from_status=from_status,
            to_status=conversation.status,
            at=at,
            payload=clean_data(payload or {}),
        )
        self.events.append(event)
        return event

    # Writing

    def flush(self) -> None:
        """Write the batch: the rows' changed columns, the participants, the events and the
        statistics; on PostgreSQL in one statement (data-modifying WITH clauses), on SQLite
        one statement each. Then hand the summary to the after-commit subscribers."""
        statements = [_insert_sql(rows) for rows in self.inserts]
        self.inserts = []
        statements += _updates_sql([(c, sorted(f)) for c, f in self.rows.values() if f])
        self.rows = {}
        statements += _activities_sql(list(self.activities.values()))
        self.activities = {}
        participants = self._changed_participants()
        if participants:
            statements.append(_participants_sql(participants))
        self._moved_participation()
        events = self.events
        statements += self.deltas.statements()
        ids = _execute(statements, _events_sql(events) if events else None)
        for event, event_id in zip(events, ids, strict=True):
            event.pk = event_id
            event._state.adding = False
        committed = hooks.Committed(
            [(e.pk, e.conversation_id) for e in events],
            self.deliveries,
            [e.conversation_id for e in events if e.kind == "sla_breached"],
            [(e.conversation_id, e.at) for e in events if _closes(e)],
        )
        self.events, self.deliveries = [], []
        if hooks.publishing() and (committed.events or committed.deliveries):
            transaction.on_commit(lambda: hooks.after_commit(committed))

    def _changed_participants(self) -> list[ConversationParticipant]:
        """The participant rows that changed; their change in the figures goes to the deltas."""
        changed = []
        for conversation, rows in self.people.values():
            figures = {}
            for participant in rows.values():
                participant.refresh_sees()
                loaded = getattr(participant, "_loaded", None)
                if loaded is None:
                    before = dict.fromkeys(("assigned", "taken", "skipped", "answered"), 0)
                elif all(getattr(participant, f) == loaded[f] for f in PARTICIPANT_FLAGS):
                    continue
                else:
                    before = rollups.participant_figures(SimpleNamespace(**loaded))
                after = rollups.participant_figures(participant)
                delta = {k: after[k] - before[k] for k in after if after[k] != before[k]}
                if delta:
                    figures[participant.employee_id] = delta
                participant._loaded = {f: getattr(participant, f) for f in PARTICIPANT_FLAGS}
                changed.append(participant)
            if figures:
                self.deltas.participation(self.counted_as(conversation), figures)
        return sorted(changed, key=lambda p: (p.conversation_id, p.employee_id))

    def _moved_participation(self) -> None:
        """Move the whole figures of each conversation whose line or closed state changed from
        the key they were under to the new one: every participant row's flags (as they are now,
        this transaction's changes included: those went to the old key) and every reply period
        (one read for all of them, this transaction's included)."""
        moved = {}
        for pk, (conversation, was) in self.counted.items():
            now = rollups.participation_where(conversation)
            if now != was:
                moved[pk] = (conversation, was, now)
        self.counted = {}
        if not moved:
            return
        self.load_participants([conversation for conversation, _was, _now in moved.values()])
        figures: dict[int, dict[int, dict[str, int]]] = {
            pk: {e: rollups.participant_figures(p) for e, p in self.people[pk][1].items()}
            for pk in moved
        }
        for pk, employee, n, total, business in _reply_sums(list(moved)):
            add = {"reply_n": n, "reply_sum": total, "reply_bh_sum": business}
            mine = figures[pk].setdefault(employee, {})
            for name, value in add.items():
                mine[name] = mine.get(name, 0) + value
        for pk, (_conversation, was, now) in moved.items():
            self.deltas.participation(
                was, {e: {k: -v for k, v in f.items()} for e, f in figures[pk].items()}
            )
            self.deltas.participation(now, figures[pk])


def _db():
    """The default database's connection object itself: `django.db.connection` is a proxy that
    looks it up again on every attribute read, hundreds of times for one message's rows."""
    return connections[DEFAULT_DB_ALIAS]


def _values(model, objects, names) -> tuple[str, list]:
    """The rows of these objects' fields, adapted for the database as Django would
    (`rowsource.rows`: `VALUES …` or a JSON row source)."""
    db = _db()
    fields = [model._meta.get_field(n) for n in names]
    return rowsource.rows(
        fields, [[f.get_db_prep_save(getattr(o, f.attname), db) for f in fields] for o in objects]
    )


def _columns(model, names) -> str:
    quote = _db().ops.quote_name
    return ", ".join(quote(model._meta.get_field(n).column) for n in names)


_INSERT_SHAPES: dict[tuple, tuple[list, str, str]] = {}


def _insert_shape(db, model, with_pk: bool) -> tuple[list, str, str]:
    """The fields an INSERT of `model` writes (its primary key only when the row has one), their
    quoted column list and the quoted table: the same for every row of a model."""
    key = (db.vendor, model, with_pk)
    if key not in _INSERT_SHAPES:
        fields = [
            f
            for f in model._meta.local_concrete_fields
            if not f.generated and (with_pk or not f.primary_key)
        ]
        columns = ", ".join(db.ops.quote_name(f.column) for f in fields)
        _INSERT_SHAPES[key] = (fields, columns, db.ops.quote_name(model._meta.db_table))
    return _INSERT_SHAPES[key]


def _insert_sql(objects, linked: str | None = None, parent: str = "p") -> tuple[str, list]:
    """A multi-row INSERT of these (unsaved, same-model) objects as `save()` would write them:
    `pre_save` values (auto_now_add), derived columns (`fill_derived`), the primary key from the
    sequence. `linked`: the attribute that holds the id the `parent` WITH clause returns."""
    db = _db()
    model = type(objects[0])
    fields, columns, table = _insert_shape(
        db, model, getattr(objects[0], model._meta.pk.attname) is not None
    )
    values = []
    for obj in objects:
        getattr(obj, "fill_derived", lambda: None)()
        values.append(
            [
                None if f.attname == linked else f.get_db_prep_save(f.pre_save(obj, add=True), db)
                for f in fields
            ]
        )
    if linked is None:
        source, params = rowsource.rows(fields, values)
        return f"INSERT INTO {table} ({columns}) {source}", params
    (row,) = values  # one row, its parent's id from the WITH clause
    slots = [f"(SELECT id FROM {parent})" if f.attname == linked else "%s" for f in fields]
    params = [v for f, v in zip(fields, row, strict=True) if f.attname != linked]
    return f"INSERT INTO {table} ({columns}) VALUES ({', '.join(slots)})", params


def _saved(obj, pk) -> None:
    obj.pk = pk
    obj._state.adding, obj._state.db = False, connection.alias


def insert_row(obj) -> None:
    """Insert one unsaved row as `save(force_insert=True)` would (`_insert_sql`), its id read
    back with RETURNING; without the model layer's per-save work (no model here has save
    signals, and `fill_derived` is what their `save()` adds)."""
    sql, params = _insert_sql([obj])
    pk = connection.ops.quote_name(type(obj)._meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} RETURNING {pk}", params)
        _saved(obj, cursor.fetchone()[0])


INSERT_ROWS = 200  # rows per multi-row INSERT (SQLite binds at most 32,766 values)


def insert_rows(objects) -> None:
    """Insert unsaved rows of one model as `insert_row` does, up to INSERT_ROWS per statement,
    their ids read back with RETURNING (a multi-row INSERT takes the ids in the order of its
    rows, as the batch's events rely on too)."""
    if not objects:
        return
    pk = connection.ops.quote_name(type(objects[0])._meta.pk.column)
    for start in range(0, len(objects), INSERT_ROWS):
        part = objects[start : start + INSERT_ROWS]
        sql, params = _insert_sql(part)
        with connection.cursor() as cursor:
            cursor.execute(f"{sql} RETURNING {pk}", params)
            ids = sorted(row[0] for row in cursor.fetchall())
        for obj, obj_pk in zip(part, ids, strict=True):
            _saved(obj, obj_pk)


def insert_linked(first, *children: tuple) -> None:
    """Insert `first` and the rows that point at it (`(child, "first_id attribute")` each), as
    `save(force_insert=True)` would. On PostgreSQL one statement (data-modifying WITH clauses
    returning the ids); on SQLite one INSERT each."""
    if connection.vendor != "postgresql":
        insert_row(first)
        for child, attname in children:
            setattr(child, attname, first.pk)
            insert_row(child)
        return
    sql, params = _insert_sql([first])
    clauses = [f"p AS ({sql} RETURNING id)"]
    for i, (child, attname) in enumerate(children):
        sql, child_params = _insert_sql([child], linked=attname)
        clauses.append(f"c{i} AS ({sql} RETURNING id)")
        params += child_params
    ids = ", ".join(
        ["(SELECT id FROM p)", *(f"(SELECT id FROM c{i})" for i in range(len(children)))]
    )
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {', '.join(clauses)} SELECT {ids}", params)
        row = cursor.fetchone()
    _saved(first, row[0])
    for (child, attname), pk in zip(children, row[1:], strict=True):
        setattr(child, attname, first.pk)
        _saved(child, pk)


UPDATE_ROWS = 200  # rows per grouped UPDATE (SQLite binds at most 32,766 values)


def _updates_sql(rows) -> list[tuple[str, list]]:
    """The conversation rows' UPDATEs: (conversation, changed column names) each."""
    groups: dict[tuple[str, ...], list] = {}
    for conversation, names in rows:
        values = [getattr(conversation, Conversation._meta.get_field(n).attname) for n in names]
        groups.setdefault(tuple(names), []).append((conversation.pk, values))
    statements = []
    for names, group in groups.items():
        statements += _rows_update_sql(Conversation, list(names), group)
    return statements


def _rows_update_sql(model, names, rows, where: str = "") -> list[tuple[str, list]]:
    """UPDATEs setting the columns `names` of the rows [(pk, [value per name])], with an extra
    condition on the table (`where`). On SQLite several rows share one
    `WITH v(…) AS (VALUES …) UPDATE … FROM v` (a timer sweep writes hundreds in a transaction);
    on PostgreSQL each is a clause of the batch's one statement already (`_execute`)."""
    db = _db()
    quote = db.ops.quote_name
    fields = [model._meta.get_field(n) for n in names]
    table = quote(model._meta.db_table)
    condition = f" AND {where}" if where else ""

    def prep(values):
        return [f.get_db_prep_save(v, db) for f, v in zip(fields, values, strict=True)]

    # UPDATE … FROM needs SQLite 3.33 (2020); an older library writes a row per statement.
    if db.vendor != "sqlite" or db.Database.sqlite_version_info < (3, 33):
        sets = ", ".join(f"{quote(f.column)} = %s" for f in fields)
        sql = f"UPDATE {table} SET {sets} WHERE {quote('id')} = %s{condition}"
        return [(sql, [*prep(values), pk]) for pk, values in rows]
    columns = ", ".join(quote(c) for c in ("id", *(f.column for f in fields)))
    row = "(" + ", ".join(["%s"] * (len(fields) + 1)) + ")"
    sets = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in fields)
    statements = []
    for start in range(0, len(rows), UPDATE_ROWS):
        part = rows[start : start + UPDATE_ROWS]
        if len(part) == 1:
            pk, values = part[0]
            one = ", ".join(f"{quote(f.column)} = %s" for f in fields)
            sql = f"UPDATE {table} SET {one} WHERE {quote('id')} = %s{condition}"
            statements.append((sql, [*prep(values), pk]))
            continue
        params = [p for pk, values in part for p in (pk, *prep(values))]
        statements.append(
            (
                f"WITH v({columns}) AS (VALUES {', '.join([row] * len(part))}) "
                f"UPDATE {table} SET {sets} FROM v "
                f"WHERE {table}.{quote('id')} = v.{quote('id')}{condition}",
                params,
            )
        )
    return statements


def _activities_sql(conversations) -> list[tuple[str, list]]:
    """The CRM activities following these conversations (`sync_activity`), each written once
    with the row's final state: responsible, completed when closed, start and end; and a lead
    with no responsible yet takes the conversation's."""
    activities, leads = [], []
    for conversation in conversations:
        closed = conversation.status >= lifecycle.OPEN_BELOW
        end = (conversation.closed_at or conversation.updated_at) if closed else None
        activities.append(
            (
                conversation.crm_activity_id,
                [conversation.responsible_id, closed, conversation.started_at, end],
            )
        )
        if conversation.responsible_id and conversation.crm_entity_type == "lead":
            leads.append((conversation.crm_entity_id, [conversation.responsible_id]))
    quote = connection.ops.quote_name
    table = quote(Lead._meta.db_table)
    return _rows_update_sql(
        Activity, ["responsible", "completed", "start_at", "end_at"], activities
    ) + _rows_update_sql(
        Lead, ["responsible"], leads, where=f"{table}.{quote('responsible_id')} IS NULL"
    )


_PARTICIPANT_COLUMNS = ("conversation", "employee", "started_at", *PARTICIPANT_FLAGS)


def _participants_sql(participants) -> tuple[str, list]:
    """One upsert for new and known rows alike, by (conversation, employee)."""
    quote = connection.ops.quote_name
    rows, params = _values(ConversationParticipant, participants, _PARTICIPANT_COLUMNS)
    sets = ", ".join(f"{quote(f)} = excluded.{quote(f)}" for f in PARTICIPANT_FLAGS)
    return (
        f"INSERT INTO {quote(ConversationParticipant._meta.db_table)} "
        f"({_columns(ConversationParticipant, _PARTICIPANT_COLUMNS)}) {rows} "
        f"ON CONFLICT ({quote('conversation_id')}, {quote('employee_id')}) DO UPDATE SET {sets}",
        params,
    )


def _closes(event) -> bool:
    """The event takes its conversation from open to closed."""
    return event.from_status is not None and event.from_status < lifecycle.OPEN_BELOW <= (
        event.to_status or 0
    )


_EVENT_COLUMNS = ("conversation", "kind", "actor", "actor_kind", "from_status", "to_status", "at")


def _events_sql(events) -> tuple[str, list]:
    rows, params = _values(ConversationEvent, events, (*_EVENT_COLUMNS, "payload"))
    table = connection.ops.quote_name(ConversationEvent._meta.db_table)
    columns = _columns(ConversationEvent, (*_EVENT_COLUMNS, "payload"))
    return (
        f"INSERT INTO {table} ({columns}) {rows} RETURNING {connection.ops.quote_name('id')}",
        params,
    )


def _execute(statements, events) -> list[int]:
    """Run the writes; return the new events' ids in their order."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and len(statements) + bool(events) > 1:
            clauses = [f"w{i} AS ({sql})" for i, (sql, _p) in enumerate(statements)]
            params = [p for _sql, ps in statements for p in ps]
            last = "SELECT 0 WHERE FALSE"
            if events:
                clauses.append(f"e AS ({events[0]})")
                params += events[1]
                last = "SELECT id FROM e"
            cursor.execute(f"WITH {', '.join(clauses)} {last}", params)
            return sorted(row[0] for row in cursor.fetchall())
        for sql, params in statements:
            cursor.execute(sql, params)
        if not events:
            return []
        cursor.execute(*events)
        return sorted(row[0] for row in cursor.fetchall())


def batch() -> Batch:
    current = _current.get()
    assert current is not None, "only inside a service's unit()"
    return current


@contextmanager
def unit(savepoint: bool = True):
    """One service transaction with its batch; joins the enclosing unit when there is one.
    `savepoint=False` inside an outer transaction: a refusal rolls the outer one back too."""
    if _current.get() is not None:
        with transaction.atomic(savepoint=savepoint):
            yield _current.get()
        return
    with transaction.atomic(savepoint=savepoint):
        current = Batch()
        token = _current.set(current)
        try:
            yield current
            current.flush()
        finally:
            _current.reset(token)


# Locking --------------------------------------------------------------------------------


_LOCK = Prepared(
    lambda pk: (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("line", "connection")
        .filter(pk=pk)
    )
)


def lock(conversation_id: int) -> Conversation:
    conversation = _LOCK.first(conversation_id)
    if conversation is None:
        raise NotFound(conversation_id)
    return conversation


def lock_if_free(conversation_id: int) -> Conversation | None:
    # of=("self",): lock the conversation row only, not its line and connection (joined by
    # select_related), or two timer loops skip each other's conversations on the same line.
    rows = Conversation.objects.select_for_update(skip_locked=True, of=("self",))
    rows = rows.select_related("line", "connection")
    return rows.filter(pk=conversation_id).first()


def load_for(actor: Actor, conversation_id: int, action: str = "act") -> Conversation:
    """Lock the row, then make sure the actor may see it (else NotFound) and act on it (else NotAllowed)."""
    conversation = lock(conversation_id)
    if actor.user is None:
        return conversation
    if not visibility.can(actor.user, conversation_id, "view"):
        raise NotFound(conversation_id)
    if visibility.scope_for(actor.user, action) == visibility.scope_for(actor.user, "view"):
        return conversation  # the same rule as for seeing it, which it just passed
    if not visibility.can(actor.user, conversation_id, action):
        raise NotAllowed()
    return conversation


# Writing a change ----------------------------------------------------------------------


def record(conversation, kind, actor: Actor, at, from_status=None, payload=None):
    return batch().record(conversation, kind, actor, at, from_status, payload)


def add_message(conversation, author_kind, text, at, author=None, **extra) -> Message:
    """Store a message; an employee's or automatic one on a channel that delivers is marked
    pending and handed to delivery after commit."""
    message = new_message(conversation, author_kind, text, at, author, **extra)
    insert_row(message)
    delivered(message)
    return message


def new_message(conversation, author_kind, text, at, author=None, **extra) -> Message:
    """A message as `add_message` stores it, not saved yet: insert it, then call `delivered`."""
    message = Message(
        conversation=conversation,
        author_kind=author_kind,
        author=author,
        text=clean(text),
        created_at=at,
        **extra,
    )
    deliver = (
        author_kind in delivery.DELIVERED_AUTHORS
        and hooks.publishing()
        and delivery.delivers(conversation.connection)
    )
    if deliver:
        message.delivery_state, message.next_attempt_at = Message.Delivery.PENDING, at
    return message


def delivered(message: Message) -> None:
    """Hand a just-inserted pending message to delivery after commit."""
    if message.delivery_state == Message.Delivery.PENDING:
        batch().deliveries.append(message.pk)


def sync_responsible(rows, previous: int | None, current: int | None, kind: str, conversation):
    if previous == current:
        return
    current_batch = batch()
    if previous is not None:
        old = rows.get(previous) or current_batch.participant(conversation, previous)
        old.is_responsible = False
        # "Responsible before a transfer" keeps seeing it; an offer passed on by a skip or a
        # queue time-out (never taken) does not.
        old.was_responsible = old.was_responsible or old.took or kind == "transferred"
    if current is not None:
        current_batch.participant(conversation, current).is_responsible = True


def clear_offers(conversation: Conversation, except_user: int | None = None) -> None:
    for participant in batch().participants(conversation).values():
        if participant.offered_now and participant.employee_id != except_user:
            participant.offered_now = False


def transition(
    conversation: Conversation,
    event: lifecycle.Event,
    actor: Actor,
    kind: str,
    payload=None,
    *,
    also: tuple[str, ...] = (),
    writer: int | None = None,
    from_line: int | None = None,
):
    """Apply one lifecycle event to a locked conversation and collect everything it implies.

    `also`: columns the caller changed on the row besides the state (a transfer's `line`).
    `writer`: the employee whose message this is (their participant row records it).
    `from_line`: the line the conversation counted under before (a transfer to another line).
    """
    before = conversation.to_state()
    state, outcome = lifecycle.apply(before, event, Rules.for_line(conversation.line))
    current_batch = batch()
    counted_as = current_batch.counted_as(
        conversation, from_line or conversation.line_id, before.status >= lifecycle.OPEN_BELOW
    )
    changed = conversation.set_state(state)
    conversation.updated_at = event.at
    current_batch.touch(conversation, [*changed, *also, "updated_at"])
    current = conversation.responsible_id
    if before.responsible != current or outcome.took is not None or writer is not None:
        rows = current_batch.participants(conversation)
        sync_responsible(rows, before.responsible, current, kind, conversation)
        if outcome.took is not None:
            current_batch.participant(conversation, outcome.took).took = True
        if writer is not None:
            current_batch.participant(conversation, writer).wrote = True
    if outcome.took is not None:
        clear_offers(conversation)
    if outcome.reply_period is not None:
        start, end, seconds, employee = outcome.reply_period
        ReplyPeriod.objects.create(
            conversation=conversation,
            employee_id=employee,
            started_at=start,
            ended_at=end,
            seconds=seconds,
            business_seconds=outcome.business_seconds,
        )
        if employee is not None:
            current_batch.deltas.participation(
                counted_as,
                {
                    employee: {
                        "reply_n": 1,
                        "reply_sum": seconds,
                        "reply_bh_sum": outcome.business_seconds or 0,
                    }
                },
            )
    if state.status >= Status.CLOSING and before.status < Status.CLOSING:
        clear_offers(conversation)
    recorded = record(conversation, kind, actor, event.at, before.status, payload)
    if outcome.breached and kind != "sla_breached":
        # SLA: a reply after the due instant the timers had not reached yet; the breach is
        # recorded with it, so each missed target is one event (hooks.mail_breaches).
        record(conversation, "sla_breached", TIMER, event.at, conversation.status)
    sync_activity(conversation, before)
    current_batch.deltas.move(
        rollups.of_state(before, conversation, from_line or conversation.line_id),
        rollups.of_conversation(conversation),
    )
    return recorded


def sync_activity(conversation: Conversation, before: lifecycle.State) -> None:
    """Keep the conversation's CRM activity in step: responsible, end time, completed when
    closed. Written with the batch, once per activity whatever the transitions in between."""
    if not conversation.crm_activity_id:
        return
    closed = conversation.status >= lifecycle.OPEN_BELOW
    was_closed = before.status >= lifecycle.OPEN_BELOW
    if before.responsible == conversation.responsible_id and closed == was_closed:
        return
    batch().activities[conversation.crm_activity_id] = conversation


def send_automatic(conversation: Conversation, text: str, at) -> Message:
    """An automatic text (closing text, rating request, greeting): stored and delivered, never a reply."""
    return send_automatic_many([(conversation, text)], at)[0]


def send_automatic_many(texts, at) -> list[Message]:
    """`send_automatic` for many `(conversation, text)` pairs (a timer sweep's closing texts):
    the messages in one INSERT per INSERT_ROWS, each with its `bot_message` event."""
    messages = [new_message(c, Message.Author.BOT, text, at) for c, text in texts]
    insert_rows(messages)
    for (conversation, _text), message in zip(texts, messages, strict=True):
        delivered(message)
        record(
            conversation, "bot_message", SYSTEM, at, conversation.status, {"message": message.pk}
        )
    return messages
