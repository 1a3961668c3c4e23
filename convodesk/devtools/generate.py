"""Bulk data for benchmarks: millions of conversations that obey the same invariants as service-made ones.

The services are far too slow for millions of rows (a transaction and a dozen statements per
change), so this module replays the lifecycle's rules in plain arithmetic on whole-second offsets
from each conversation's start, and writes the rows with multi-row inserts (SQLite) or COPY
(PostgreSQL). `invariants.check` is the proof that the two writers agree.

Shape (PERFORMANCE.md): 25 open channels with 40 connections over the 4 kinds, 300 employees in 20
departments, about 40 % returning clients, two years of history ending now, every detailed status,
long-tailed metrics. Conversation i starts at `begin + i * step + jitter` (jitter < step), so ids
grow with `started_at`. Work goes in chunks, one transaction each; a rerun counts what exists and
continues. Open conversations always get a fresh client identity, so the "one open conversation
per identity" index holds; older conversations of returning clients are always closed.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import connection, models, transaction
from django.utils import timezone

from convodesk.accounts.models import Department, Role, User
from convodesk.conversations import lifecycle
from convodesk.conversations.lifecycle import Status
from convodesk.conversations.models import (
    Client,
    ClientIdentity,
    Conversation,
    ConversationEvent,
    ConversationParticipant,
    Message,
    ReplyPeriod,
)
from convodesk.conversations.normalize import fold_name
from convodesk.lines.models import Connection, Line, LineMember

PREFIX = "gen"
N_DEPARTMENTS, N_EMPLOYEES, N_LINES = 20, 300, 25
SPAN = dt.timedelta(days=730)
RECENT = 3 * 86400  # open conversations other than stale queued ones start in the last 3 days
AUTO_CLOSE = 240 * 60
FULL_CLOSE = 10 * 60
QUEUE_TIMEOUT = 60
RETURNING_SHARE = 0.40
KINDS = [("telegram", 0.45), ("livechat", 0.30), ("email", 0.15), ("api", 0.10)]
# Bytes on disk per conversation with its ~6.4 messages, indexes included (measured at 100,000 and
# 1,000,000: SQLite 3.4 kB, PostgreSQL 4.8 kB), with a margin; and without messages (estimated).
BYTES_WITH_MESSAGES = {"sqlite": 3600, "postgresql": 5000}
BYTES_WITHOUT_MESSAGES = {"sqlite": 1400, "postgresql": 2000}

FIRST = [
    "María",
    "José",
    "Juan",
    "Ana",
    "Luis",
    "Carmen",
    "Pedro",
    "Laura",
    "Carlos",
    "Elena",
    "Ivan",
    "Olga",
    "Anna",
    "Dmitry",
    "Sergey",
    "Maria",
    "John",
    "Emma",
    "Pablo",
    "Lucía",
    "Sofía",
    "Diego",
    "Olivia",
    "Noah",
    "Marta",
    "Jorge",
    "Isabel",
    "Tom",
    "Grace",
    "Hugo",
]
LAST = [
    "García",
    "Rodríguez",
    "González",
    "Fernández",
    "López",
    "Martínez",
    "Sánchez",
    "Pérez",
    "Gómez",
    "Martín",
    "Jiménez",
    "Ruiz",
    "Hernández",
    "Díaz",
    "Moreno",
    "Muñoz",
    "Álvarez",
    "Romero",
    "Alonso",
    "Gutiérrez",
    "Navarro",
    "Torres",
    "Domínguez",
    "Vázquez",
    "Ramos",
    "Gil",
    "Ramírez",
    "Serrano",
    "Blanco",
    "Molina",
    "Ivanov",
    "Smirnov",
    "Kuznetsov",
    "Popov",
    "Petrov",
    "Sokolov",
    "Smith",
    "Johnson",
    "Brown",
    "Taylor",
    "Wilson",
    "Clark",
    "Walker",
    "Hall",
    "Young",
    "King",
    "Wright",
    "Scott",
    "Green",
    "Baker",
]
CLIENT_TEXTS = [
    "Hi, my order has not arrived yet.",
    "Can I change the delivery address?",
    "I was charged twice.",
    "How do I reset my password?",
    "Do you ship to Portugal?",
    "The invoice shows the wrong company.",
    "I want to return a product.",
    "Is anyone there?",
    "Thanks, that worked!",
    "One more question.",
    "Hola, mi pedido todavía no ha llegado.",
    "¿Puedo cambiar la dirección de entrega?",
    "Me han cobrado dos veces.",
    "¿Cómo restablezco mi contraseña?",
    "Quiero devolver un producto.",
    "¿Hay alguien?",
    "Gracias, ya funciona.",
    "Una pregunta más.",
    "The app keeps logging me out.",
    "Where can I download my invoice?",
    "¿Cuándo abre la tienda?",
    "My discount code does not work.",
]
EMPLOYEE_TEXTS = [
    "Hello! Let me check that for you.",
    "Could you send me your order number?",
    "Done, it is fixed now.",
    "I have refunded the duplicate charge.",
    "You can reset it from the login page.",
    "Anything else?",
    "¡Hola! Lo reviso ahora mismo.",
    "¿Me pasas el número de pedido?",
    "Listo, ya está resuelto.",
    "He devuelto el cargo duplicado.",
    "¿Algo más en lo que pueda ayudarte?",
    "Thanks for waiting.",
]
CLOSING_TEXT = "Thank you for contacting us. / Gracias por contactarnos."


def _pareto(rng: random.Random, scale: float, cap: float = 0.9995) -> int:
    """A long tail: median about `scale`, p99 about 40x the scale."""
    return int(scale * (1 / (1 - rng.random() * cap) - 1))


# The organisation -------------------------------------------------------------------


@dataclass
class Org:
    lines: list[dict]
    employees: list[int]
    connections: list[dict]  # id, kind, line index
    kind_weights: list[float]


def ensure_org(seed: int = 1) -> Org:
    """Create (once) the generated departments, employees, lines, connections and benchmark users."""
    rng = random.Random(seed)
    with transaction.atomic():
        departments = list(
            Department.objects.filter(name__startswith="Gen department ").order_by("name")
        )
        if len(departments) < N_DEPARTMENTS:
            have = {d.name for d in departments}
            for n in range(1, N_DEPARTMENTS + 1):
                name = f"Gen department {n:02d}"
                if name not in have:
                    Department.objects.create(name=name)
            departments = list(
                Department.objects.filter(name__startswith="Gen department ").order_by("name")
            )
        employees = list(
            User.objects.filter(username__startswith=f"{PREFIX}-agent-").order_by("username")
        )
        if len(employees) < N_EMPLOYEES:
            operator_role = Role.objects.filter(name="Manager").first()
            have = {u.username for u in employees}
            unusable = make_password(None)
            new = [
                User(
                    username=f"{PREFIX}-agent-{n:03d}",
                    password=unusable,
                    display_name=f"{rng.choice(FIRST)} {rng.choice(LAST)} ({n:03d})",
                )
                for n in range(1, N_EMPLOYEES + 1)
                if f"{PREFIX}-agent-{n:03d}" not in have
            ]
            User.objects.bulk_create(new)
            employees = list(
                User.objects.filter(username__startswith=f"{PREFIX}-agent-").order_by("username")
            )
            per = N_EMPLOYEES // N_DEPARTMENTS
            through = User.departments.through
            through.objects.filter(user__in=employees).delete()
            through.objects.bulk_create(
                through(user_id=u.pk, department_id=departments[i // per].pk)
                for i, u in enumerate(employees)
            )
            if operator_role is not None:
                roles = User.roles.through
                roles.objects.filter(user__in=employees).delete()
                roles.objects.bulk_create(
                    roles(user_id=u.pk, role_id=operator_role.pk) for u in employees
                )
        lines = list(Line.objects.filter(name__startswith="Gen line ").order_by("name"))
        if len(lines) < N_LINES:
            Line.objects.filter(name__startswith="Gen line ").delete()
            lines = []
            per = N_EMPLOYEES // N_DEPARTMENTS
            for n in range(N_LINES):
                closing = n % 5 == 0
                line = Line.objects.create(
                    name=f"Gen line {n + 1:02d}",
                    distribution=[Line.Distribution.ALL_AT_ONCE, Line.Distribution.EVENLY][n % 2],
                    closing_text=CLOSING_TEXT if closing else "",
                    ask_rating=closing,
                    working_hours=(
                        {str(d): [["09:00", "18:00"]] for d in range(5)} if n % 3 == 0 else {}
                    ),
                )
                dep_a, dep_b = n % N_DEPARTMENTS, (n * 7 + 3) % N_DEPARTMENTS
                members = employees[dep_a * per : (dep_a + 1) * per]
                if n % 2:
                    members = members + employees[dep_b * per : (dep_b + 1) * per]
                LineMember.objects.bulk_create(
                    LineMember(line=line, user=u, position=p)
                    for p, u in enumerate(dict.fromkeys(members))
                )
                lines.append(line)
            kinds = [k for k, _w in KINDS]
            for n, line in enumerate(lines):
                Connection.objects.create(
                    line=line, kind=kinds[n % 4], name=f"Gen {kinds[n % 4]} {n + 1:02d}"
                )
                if n < 15:
                    kind = kinds[(n * 3 + 1) % 4]
                    Connection.objects.create(line=line, kind=kind, name=f"Gen {kind} {n + 1:02d}b")
        _ensure_bench_users(departments, employees)
    member_ids = {}
    for m in LineMember.objects.filter(line__in=lines).order_by("position", "id"):
        member_ids.setdefault(m.line_id, []).append(m.user_id)
    line_index = {line.pk: i for i, line in enumerate(lines)}
    line_dicts = [
        {
            "id": line.pk,
            "members": member_ids.get(line.pk, []),
            "closing": line.closing_mode,
            "hours": bool(line.working_hours),
            "evenly": line.distribution != Line.Distribution.ALL_AT_ONCE,
        }
        for line in lines
    ]
    conns = [
        {"id": c.pk, "kind": c.kind, "line": line_index[c.line_id]}
        for c in Connection.objects.filter(line__in=lines).order_by("id")
    ]
    share = dict(KINDS)
    per_kind = {k: sum(1 for c in conns if c["kind"] == k) for k in share}
    weights = [share[c["kind"]] / per_kind[c["kind"]] for c in conns]
    return Org(line_dicts, [u.pk for u in employees], conns, weights)


def _ensure_bench_users(departments, employees) -> None:
    """An administrator, an operator and a department supervisor for the benchmarks (no password)."""
    unusable = make_password(None)
    User.objects.get_or_create(
        username=f"{PREFIX}-admin",
        defaults={
            "is_superuser": True,
            "is_staff": True,
            "password": unusable,
            "display_name": "Gen admin",
        },
    )
    role, _ = Role.objects.get_or_create(
        name="Department supervisor",
        defaults=dict(
            view_conversations=20, view_history=20, view_statistics=20, act=20, rate=20, export=30
        ),
    )
    supervisor, created = User.objects.get_or_create(
        username=f"{PREFIX}-supervisor",
        defaults={"password": unusable, "display_name": "Gen supervisor"},
    )
    if created:
        supervisor.departments.set([departments[0]])
        supervisor.roles.set([role])


def bench_users() -> dict[str, User]:
    """The users the benchmarks log in as: admin, operator (own), supervisor (department)."""
    return {
        "admin": User.objects.get(username=f"{PREFIX}-admin"),
        "operator": User.objects.get(username=f"{PREFIX}-agent-001"),
        "supervisor": User.objects.get(username=f"{PREFIX}-supervisor"),
    }


# Writing rows -----------------------------------------------------------------------


class Table:
    """Inserts rows of `columns` into a model's table; every other column gets its default."""

    def __init__(self, model, columns: tuple[str, ...]):
        self.model = model
        self.columns = columns
        self.vendor = connection.vendor
        concrete = [f for f in model._meta.concrete_fields]
        names = {f.column for f in concrete}
        missing = [c for c in columns if c not in names]
        if missing:
            raise RuntimeError(f"{model.__name__} has no columns {missing}")
        self.extra = []
        for f in concrete:
            if f.column in columns:
                continue
            value = f.get_default()  # the declared default, or "" for text columns
            if value is None and not f.null:
                raise RuntimeError(
                    f"The generator does not know how to fill {model.__name__}.{f.name}; add it to generate.py."
                )
            if isinstance(f, models.JSONField):
                value = json.dumps(value)
            self.extra.append((f.column, value))
        self.table = model._meta.db_table
        all_columns = list(columns) + [c for c, _v in self.extra]
        quote = connection.ops.quote_name
        self.column_sql = ", ".join(quote(c) for c in all_columns)
        if self.vendor == "postgresql":
            self.copy_suffix = "".join("\t" + _copy_text(v) for _c, v in self.extra)
        else:
            literals = ", ".join(_sqlite_literal(v) for _c, v in self.extra)
            marks = ", ".join("?" for _ in columns)
            self.insert_sql = (
                f"INSERT INTO {quote(self.table)} ({self.column_sql}) VALUES ({marks}"
                + (f", {literals}" if literals else "")
                + ")"
            )

    def write(self, rows: list[tuple]) -> None:
        if not rows:
            return
        raw = connection.connection
        if self.vendor == "postgresql":
            suffix = self.copy_suffix
            with raw.cursor() as cur:
                with cur.copy(
                    f"COPY {connection.ops.quote_name(self.table)} ({self.column_sql}) FROM STDIN"
                ) as cp:
                    step = 20000
                    for start in range(0, len(rows), step):
                        cp.write(
                            "".join(
                                "\t".join(_copy_text(v) for v in row) + suffix + "\n"
                                for row in rows[start : start + step]
                            )
                        )
        else:
            raw.executemany(self.insert_sql, rows)


def _copy_text(value) -> str:
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    return str(value)


def _sqlite_literal(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


# One conversation --------------------------------------------------------------------


@dataclass
class Sim:
    """The state of one conversation while its story is played, in whole seconds from the start."""

    incoming: bool = True
    status: int = Status.NEW
    responsible: int | None = None
    assigned: int | None = None
    taken: int | None = None
    first_reply: int | None = None
    last_message: int = 0
    agent_closed: int | None = None
    closed: int | None = None
    closed_by: str = ""
    pending: str = ""
    waiting: int | None = None
    count: int = 0
    transfers: int = 0
    periods: list = field(default_factory=list)  # (start, end, employee)
    messages: list = field(default_factory=list)  # (offset, author_kind, employee or None)
    people: dict = field(default_factory=dict)  # employee -> flags dict
    client_rating: int | None = None
    auto_close: int | None = None
    full_close: int | None = None
    offer_expires: int | None = None
    t: int = 0
    auto_close_after: int = AUTO_CLOSE  # the open channel's timers, in seconds
    full_close_after: int = FULL_CLOSE

    def person(self, emp: int) -> dict:
        p = self.people.get(emp)
        if p is None:
            p = self.people[emp] = {
                "is_responsible": False,
                "was_responsible": False,
                "wrote": False,
                "offered_now": False,
                "ever_offered": False,
                "took": False,
                "skips": 0,
            }
        return p

    def set_responsible(self, emp: int | None) -> None:
        if emp == self.responsible:
            return
        if self.responsible is not None:
            old = self.person(self.responsible)
            old["is_responsible"] = False
            old["was_responsible"] = True
        if emp is not None:
            self.person(emp)["is_responsible"] = True
        self.responsible = emp

    def clear_offers(self) -> None:
        for p in self.people.values():
            p["offered_now"] = False

    def client_message(self) -> None:
        if self.status in (Status.TAKEN, Status.CLIENT_WROTE):
            self.status = Status.CLIENT_WROTE
        elif self.status >= Status.AGENT_REPLIED:
            self.status = Status.CLIENT_WROTE_AFTER_AGENT
        self.messages.append((self.t, "client", None))
        self.last_message = self.t
        self.count += 1
        if self.waiting is None:
            self.waiting = self.t
        self.auto_close = None

    def offer(self, emps: list[int], assign: bool) -> None:
        if self.assigned is None:
            self.assigned = self.t
        self.offer_expires = self.t + QUEUE_TIMEOUT
        if assign:
            self.set_responsible(emps[0])
        for e in emps:
            p = self.person(e)
            p["offered_now"] = p["ever_offered"] = True

    def take(self, emp: int) -> None:
        self.status = Status.TAKEN
        self.set_responsible(emp)
        if self.taken is None:
            self.taken = self.t
        self.offer_expires = None
        self.person(emp)["took"] = True
        self.clear_offers()

    def employee_message(self, emp: int) -> None:
        if self.waiting is not None:
            self.periods.append((self.waiting, self.t, emp))
            self.waiting = None
        if self.status in (Status.NEW, Status.SKIPPED):
            self.set_responsible(emp)
            if self.taken is None:
                self.taken = self.t
            self.person(emp)["took"] = True
            self.clear_offers()
        self.status = Status.AGENT_REPLIED
        if self.first_reply is None:
            self.first_reply = self.t
        self.last_message = self.t
        self.count += 1
        self.offer_expires = None
        self.auto_close = self.t + self.auto_close_after
        self.messages.append((self.t, "employee", emp))
        self.person(emp)["wrote"] = True

    def transfer(self, emp: int) -> None:
        self.clear_offers()
        self.status = Status.SKIPPED
        self.set_responsible(emp)
        self.transfers += 1
        self.auto_close = None
        self.offer_expires = self.t + QUEUE_TIMEOUT
        p = self.person(emp)
        p["offered_now"] = p["ever_offered"] = True

    def _clear_timers(self) -> None:
        self.waiting = self.auto_close = self.offer_expires = None

    def close(self, by: str, closing_mode: bool, employee: int | None = None) -> None:
        final = Status.CLOSED if by == lifecycle.CLOSED_BY_EMPLOYEE else Status.AUTO_CLOSED
        self._clear_timers()
        if by == lifecycle.CLOSED_BY_EMPLOYEE:
            self.agent_closed = self.t
            if self.responsible is None and employee is not None:
                self.set_responsible(employee)
        self.clear_offers()
        if closing_mode:
            self.status, self.pending, self.full_close = (
                Status.CLOSING,
                by,
                self.t + self.full_close_after,
            )
            self.messages.append((self.t, "bot", None))
        else:
            self.status, self.closed, self.closed_by = final, self.t, by

    def final_close(self) -> None:
        self.status = (
            Status.CLOSED if self.pending == lifecycle.CLOSED_BY_EMPLOYEE else Status.AUTO_CLOSED
        )
        self.closed, self.closed_by = self.t, self.pending or lifecycle.CLOSED_BY_SYSTEM
        self.pending, self.full_close = "", None

    def spam(self, emp: int) -> None:
        self._clear_timers()
        self.clear_offers()
        self.status, self.closed, self.closed_by, self.agent_closed = (
            Status.SPAM,
            self.t,
            "employee",
            self.t,
        )
        if self.responsible is None:
            self.set_responsible(emp)

    def duplicate(self) -> None:
        self._clear_timers()
        self.clear_offers()
        self.status, self.closed, self.closed_by, self.agent_closed = (
            Status.DUPLICATE,
            self.t,
            "system",
            None,
        )


OPEN_STALE = [
    (Status.NEW, 0.003),
    (Status.SKIPPED, 0.002),
    (Status.TAKEN, 0.002),
    (Status.CLIENT_WROTE, 0.003),
    (Status.CLIENT_WROTE_AFTER_AGENT, 0.003),
]
OPEN_RECENT = [
    (Status.NEW, 0.06),
    (Status.SKIPPED, 0.03),
    (Status.TAKEN, 0.03),
    (Status.CLIENT_WROTE, 0.05),
    (Status.CLIENT_WROTE_AFTER_AGENT, 0.05),
    (Status.AGENT_REPLIED, 0.20),
    (Status.CLOSING, 0.04),
]
CLOSED_MIX = [
    (Status.AUTO_CLOSED, 0.55),
    (Status.CLOSED, 0.36),
    (Status.SPAM, 0.05),
    (Status.DUPLICATE, 0.04),
]


def _pick(rng: random.Random, table, default):
    r = rng.random()
    for value, p in table:
        if r < p:
            return value
        r -= p
    return default


def play(
    rng: random.Random,
    target: int,
    incoming: bool,
    members: list[int],
    closing_mode: bool,
    evenly: bool,
) -> Sim:
    """Play one conversation's story so that it ends at `target`, following lifecycle's rules."""
    s = Sim(incoming=incoming)
    emp = rng.choice(members)
    if not incoming:
        s.status, s.responsible, s.taken, s.first_reply = Status.AGENT_REPLIED, emp, 0, 0
        s.messages.append((0, "employee", emp))
        s.count, s.auto_close = 1, AUTO_CLOSE
        p = s.person(emp)
        p["is_responsible"] = p["wrote"] = p["took"] = True
        if target in (Status.NEW, Status.SKIPPED, Status.TAKEN, Status.CLIENT_WROTE):
            target = Status.AGENT_REPLIED
    else:
        s.client_message()
        for _ in range(int(rng.random() ** 3 * 3)):
            s.t += 5 + _pareto(rng, 15)
            s.client_message()

    if incoming and target in (Status.SPAM, Status.DUPLICATE) and rng.random() < 0.5:
        s.t += 5 + _pareto(rng, 60)
        s.spam(emp) if target == Status.SPAM else s.duplicate()
        return s
    if incoming and target == Status.NEW:
        if rng.random() < 0.6:  # offered to whoever is online; nobody took it yet
            s.t += 1
            s.offer(rng.sample(members, min(3, len(members))) if not evenly else [emp], evenly)
        return s

    if incoming:
        # Offered, then taken after the agent response time.
        s.t += 1
        s.offer([emp] if evenly else rng.sample(members, min(3, len(members))) + [emp], evenly)
        s.t += _pareto(rng, 20)
        s.take(emp)
        if target == Status.TAKEN:
            return s
        if target == Status.CLIENT_WROTE or rng.random() < 0.1:
            s.t += 3 + _pareto(rng, 10)
            s.client_message()
            if target == Status.CLIENT_WROTE:
                return s
        s.t += 2 + _pareto(rng, 25)
        s.employee_message(emp)

    rounds = int(-math.log(1 - rng.random() * 0.999) * 2.2)
    for r in range(rounds):
        s.t += 10 + _pareto(rng, 60)
        s.client_message()
        if rng.random() < 0.3:
            s.t += 3 + _pareto(rng, 10)
            s.client_message()
        if target == Status.CLIENT_WROTE_AFTER_AGENT and r == rounds - 1:
            return s
        if rng.random() < 0.06 and len(members) > 1:
            s.t += 5 + _pareto(rng, 20)
            emp = rng.choice([m for m in members if m != s.responsible])
            s.transfer(emp)
            if target == Status.SKIPPED:
                return s
            s.t += 2 + _pareto(rng, 15)
            s.take(emp)
        s.t += 2 + _pareto(rng, 25)
        s.employee_message(emp)
    if target == Status.CLIENT_WROTE_AFTER_AGENT:
        s.t += 10 + _pareto(rng, 60)
        s.client_message()
        return s
    if target == Status.SKIPPED:
        s.t += 5 + _pareto(rng, 20)
        other = [m for m in members if m != s.responsible] or members
        s.transfer(rng.choice(other))
        return s
    if target == Status.AGENT_REPLIED:
        return s

    if target == Status.SPAM:
        s.t += 5 + _pareto(rng, 60)
        s.spam(emp)
    elif target == Status.DUPLICATE:
        s.t += 5 + _pareto(rng, 60)
        s.duplicate()
    elif target == Status.CLOSED or (target == Status.CLOSING and rng.random() < 0.5):
        s.t += 5 + _pareto(rng, 30)
        s.close(lifecycle.CLOSED_BY_EMPLOYEE, closing_mode, emp)
    elif rng.random() < 0.03:  # closed through an integration's token
        s.t += 5 + _pareto(rng, 600)
        s.close(lifecycle.CLOSED_BY_SYSTEM, closing_mode)
    else:  # the client stays silent: the auto-close fires
        s.t = s.auto_close
        s.close(lifecycle.CLOSED_BY_AUTOMATIC, closing_mode)
    if s.status == Status.CLOSING and target != Status.CLOSING:
        if rng.random() < 0.35:
            s.t += 5 + _pareto(rng, 30, 0.99)
            s.client_rating = 1 if rng.random() < 0.8 else -1
            s.final_close()
        else:
            s.t = s.full_close
            s.final_close()
    return s


# The generator ----------------------------------------------------------------------


def _ts_formatter(vendor: str):
    suffix = "+00" if vendor == "postgresql" else ""
    cache = {}

    def fmt(epoch_seconds: int, micro: int) -> str:
        base = cache.get(epoch_seconds)
        if base is None:
            if len(cache) > 200000:
                cache.clear()
            base = cache[epoch_seconds] = time.strftime(
                "%Y-%m-%d %H:%M:%S", time.gmtime(epoch_seconds)
            )
        return f"{base}.{micro:06d}{suffix}"

    return fmt


@dataclass
class Progress:
    total: int
    done: int
    messages: int = 0
    started: float = field(default_factory=time.monotonic)


def disk_needed(vendor: str, conversations: int, with_messages: int) -> int:
    return BYTES_WITH_MESSAGES[vendor] * with_messages + BYTES_WITHOUT_MESSAGES[vendor] * (
        conversations - with_messages
    )


def database_path():
    db = settings.DATABASES["default"]
    if connection.vendor == "sqlite":
        from pathlib import Path

        return Path(db["NAME"]).resolve().parent
    return None


def disk_free() -> int:
    """Free bytes where the database lives (the data directory of a local PostgreSQL if readable)."""
    path = database_path()
    if path is None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SHOW data_directory")
                path = cursor.fetchone()[0]
            return shutil.disk_usage(path).free
        except Exception:  # noqa: BLE001 — not allowed to read it: measure our own disk
            path = settings.VAR_DIR
    return shutil.disk_usage(path).free


class NotEnoughDisk(Exception):
    pass


def generated_lines() -> list[int]:
    return list(Line.objects.filter(name__startswith="Gen line ").values_list("id", flat=True))


def existing_count() -> int:
    lines = generated_lines()
    if not lines:
        return 0
    return Conversation.objects.filter(connection__line_id__in=lines).count()


def generate(
    conversations: int,
    messages_for: int | None = None,
    seed: int = 42,
    chunk: int = 50000,
    events: bool = True,
    log=print,
    rollups: bool = True,
) -> Progress:
    """Make the generated data set hold `conversations` conversations (continuing what exists).
    `rollups=False` leaves the statistics rollups unbuilt (a test that never reads them)."""
    messages_for = conversations if messages_for is None else min(messages_for, conversations)
    vendor = connection.vendor
    org = ensure_org(seed)
    done = existing_count()
    progress = Progress(conversations, done)
    if done >= conversations:
        restore_indexes(log)
        log(f"{done:,} generated conversations already exist; nothing to do.")
        return progress
    remaining_msgs = max(0, messages_for - max(0, done - (conversations - messages_for)))
    need = disk_needed(vendor, conversations - done, min(remaining_msgs, conversations - done))
    free = disk_free()
    if free < need * 1.2:
        raise NotEnoughDisk(
            f"Not enough disk: about {need / 1e9:.1f} GB needed for {conversations - done:,} more "
            f"conversations, {free / 1e9:.1f} GB free. Skipped."
        )
    log(
        f"Generating {conversations - done:,} conversations ({done:,} exist) on {vendor}; "
        f"about {need / 1e9:.1f} GB of {free / 1e9:.1f} GB free."
    )
    with _big_page_cache():
        gen = Generator(org, conversations, messages_for, seed, events)
        gen.resume(done)
        if conversations - done >= BULK_INDEX_THRESHOLD:
            drop_secondary_indexes(log)
        while done < conversations:
            n = min(chunk, conversations - done)
            with transaction.atomic():
                _skip_fk_triggers()
                written = gen.chunk(done, n)
            done += n
            progress.done = done
            progress.messages += written
            elapsed = time.monotonic() - progress.started
            log(
                f"  {done:,} / {conversations:,} conversations, {progress.messages:,} messages, "
                f"{elapsed:.0f} s"
            )
        after_load(log, rollups=rollups)
    return progress


@contextmanager
def _big_page_cache():
    """On SQLite, a page cache big enough to keep the index updates of a load in memory, and the
    connection's own size back afterwards: connections are kept by the process and reused, and
    the next request must not find one holding 400 MB."""
    if connection.vendor != "sqlite":
        yield
        return
    outside = not connection.in_atomic_block  # SQLite refuses temp_store inside a transaction
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        (cache,) = cursor.fetchone()
        cursor.execute("PRAGMA temp_store")
        (temp,) = cursor.fetchone()
        cursor.execute("PRAGMA cache_size=-400000")
        if outside:
            cursor.execute("PRAGMA temp_store=MEMORY")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size={int(cache)}")
            if outside and not connection.in_atomic_block:
                cursor.execute(f"PRAGMA temp_store={int(temp)}")


# Secondary indexes are dropped for a big load and built again at the end: maintaining ~30 of
# them row by row costs several times what one sorted build does. Their DDL is kept in a table of
# the database itself, so an interrupted run rebuilds them when it is resumed (or by `restore`).
BULK_INDEX_THRESHOLD = 100000
BULK_TABLES = (
    Client,
    ClientIdentity,
    Conversation,
    ConversationParticipant,
    ReplyPeriod,
    Message,
    ConversationEvent,
)
STATE_TABLE = "convodesk_generate_dropped_index"


def _secondary_indexes(cursor, table: str) -> list[tuple[str, str]]:
    if connection.vendor == "postgresql":
        cursor.execute(
            "SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
            "WHERE t.relname = %s AND NOT x.indisunique AND NOT x.indisprimary "
            "AND t.relnamespace = 'public'::regnamespace",
            [table],
        )
    else:
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s AND sql IS NOT NULL "
            "AND upper(sql) NOT LIKE 'CREATE UNIQUE%%'",
            [table],
        )
    return list(cursor.fetchall())


def drop_secondary_indexes(log=print) -> None:
    quote = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} (name varchar(200) PRIMARY KEY, ddl text NOT NULL)"
        )
        cursor.execute(f"SELECT name FROM {STATE_TABLE}")
        saved = {row[0] for row in cursor.fetchall()}
        dropped = 0
        for model in BULK_TABLES:
            for name, ddl in _secondary_indexes(cursor, model._meta.db_table):
                if name not in saved:
                    cursor.execute(
                        f"INSERT INTO {STATE_TABLE} (name, ddl) VALUES (%s, %s)", [name, ddl]
                    )
                cursor.execute(f"DROP INDEX {quote(name)}")
                dropped += 1
    log(f"Dropped {dropped} secondary indexes for the load; they are built again at the end.")


def restore_indexes(log=print) -> None:
    """Build the indexes a bulk load dropped (also after an interrupted run)."""
    with connection.cursor() as cursor:
        if STATE_TABLE not in connection.introspection.table_names(cursor):
            return
        cursor.execute(f"SELECT name, ddl FROM {STATE_TABLE} ORDER BY name")
        rows = cursor.fetchall()
        if connection.vendor == "postgresql":
            cursor.execute("SET maintenance_work_mem = '512MB'")
        started = time.monotonic()
        existing = set()
        for model in BULK_TABLES:
            existing |= {n for n, _d in _secondary_indexes(cursor, model._meta.db_table)}
        for name, ddl in rows:
            if name not in existing:
                cursor.execute(ddl)
            cursor.execute(f"DELETE FROM {STATE_TABLE} WHERE name = %s", [name])
        cursor.execute(f"DROP TABLE {STATE_TABLE}")
    log(f"Built {len(rows)} indexes again in {time.monotonic() - started:.0f} s.")


def _skip_fk_triggers() -> None:
    """On PostgreSQL, skip the per-row foreign-key triggers for this transaction when allowed
    (superuser); the generator writes consistent keys. Otherwise they are checked at commit."""
    if connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
    except Exception:  # noqa: BLE001 — not a superuser: keep the checks
        pass


def after_load(log=print, rollups: bool = True) -> None:
    from convodesk.stats import rollups as statistics
    from convodesk.stats.models import Participation, Rollup, RollupBucket

    restore_indexes(log)
    started = time.monotonic()
    if rollups:
        statistics.rebuild()
        log(f"Statistics rollups rebuilt in {time.monotonic() - started:.0f} s.")
    else:
        log("Statistics rollups not rebuilt (--no-rollups).")
    # PostgreSQL: VACUUM, not only ANALYZE. Bulk-loaded pages are not in the visibility map
    # until vacuumed, so every "index-only" scan fetched the heap (90,000 heap fetches for one
    # operator's participant rows at 10,000,000 conversations).
    # SQLite: no ANALYZE. With sqlite_stat1 present its planner prefers "scan the 25 lines, fetch
    # their conversations, sort" over walking the (started_at desc, id desc) index for the list's
    # ORDER BY ... LIMIT 50: 780 ms instead of 0.1 ms at 100,000 conversations (BENCHMARKS.md).
    if connection.vendor == "postgresql":
        started = time.monotonic()
        with connection.cursor() as cursor:
            for model in (
                Client,
                ClientIdentity,
                Conversation,
                ConversationParticipant,
                ConversationEvent,
                ReplyPeriod,
                Message,
                Rollup,
                RollupBucket,
                Participation,
            ):
                # VACUUM cannot run inside a transaction (a test's): ANALYZE there.
                verb = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
                cursor.execute(f"{verb} {connection.ops.quote_name(model._meta.db_table)}")
        log(f"Vacuumed and analysed in {time.monotonic() - started:.0f} s.")


class Rows:
    """The rows of played conversations (`Sim`s), written at once by `Table` (multi-row inserts on
    SQLite, COPY on PostgreSQL). Ids are handed out from the tables' current maximum, so call
    `start()` inside the transaction that `write()`s them. The generator and the demo's history
    (devtools/demo_history.py) both write through this."""

    CONV_COLUMNS = (
        "id",
        "type",
        "status",
        "line_id",
        "connection_id",
        "channel",
        "client_id",
        "identity_id",
        "responsible_id",
        "started_at",
        "assigned_at",
        "taken_at",
        "first_reply_at",
        "last_message_at",
        "agent_closed_at",
        "closed_at",
        "updated_at",
        "waiting_since",
        "closed_by",
        "pending_closed_by",
        "message_count",
        "transfer_count",
        "client_rating",
        "supervisor_rating",
        "spam",
        "business_hours",
        "returning",
        "excerpt",
        "agent_response_time",
        "first_answer_wait",
        "duration",
        "time_to_agent_close",
        "reply_count",
        "reply_time_first",
        "reply_time_total",
        "reply_time_avg",
        "reply_time_max",
        "auto_close_at",
        "full_close_at",
        "offer_expires_at",
    )
    MODELS = (
        Client,
        ClientIdentity,
        Conversation,
        ConversationParticipant,
        ReplyPeriod,
        Message,
        ConversationEvent,
    )

    def __init__(self, conv_extra: tuple[str, ...] = ()):
        """`conv_extra`: more conversation columns, given to `conversation(extra=...)`."""
        self.fmt = _ts_formatter(connection.vendor)
        self.conv_extra = conv_extra
        self.t_conv = Table(Conversation, self.CONV_COLUMNS + conv_extra)
        self.t_client = Table(
            Client,
            # name_search: the accent-free name the client search matches (issue 22)
            (
                "id",
                "name",
                "phone",
                "email",
                "phone_normalized",
                "email_normalized",
                "created_at",
                "name_search",
            ),
        )
        self.t_identity = Table(
            ClientIdentity,
            ("id", "client_id", "connection_id", "external_id", "display_name", "created_at"),
        )
        self.t_part = Table(
            ConversationParticipant,
            (
                "id",
                "conversation_id",
                "employee_id",
                "started_at",
                "is_responsible",
                "was_responsible",
                "wrote",
                "offered_now",
                "ever_offered",
                "took",
                "skip_count",
                "sees",
            ),
        )
        self.t_period = Table(
            ReplyPeriod,
            ("id", "conversation_id", "employee_id", "started_at", "ended_at", "seconds"),
        )
        self.t_msg = Table(
            Message,
            (
                "id",
                "conversation_id",
                "author_kind",
                "author_id",
                "text",
                "created_at",
                "connection_id",
            ),
        )
        self.t_event = Table(
            ConversationEvent,
            (
                "id",
                "conversation_id",
                "kind",
                "actor_id",
                "actor_kind",
                "from_status",
                "to_status",
                "at",
            ),
        )

    def start(self) -> None:
        """Begin a batch: the next free id of every table, empty row lists."""
        ids = {}
        for model in self.MODELS:
            value = model.objects.aggregate(m=models.Max("id"))["m"]
            ids[model] = (value or 0) + 1
        self.client_id, self.identity_id, self.conv_id = (
            ids[Client],
            ids[ClientIdentity],
            ids[Conversation],
        )
        self.part_id, self.period_id, self.msg_id, self.event_id = (
            ids[ConversationParticipant],
            ids[ReplyPeriod],
            ids[Message],
            ids[ConversationEvent],
        )
        self.clients, self.identities, self.convs = [], [], []
        self.parts, self.periods, self.msgs, self.events = [], [], [], []

    def client(
        self,
        *,
        name: str,
        phone: str,
        email: str,
        phone_normalized: str,
        email_normalized: str,
        created: str,
        connection_id: int,
        external_id: str,
    ) -> tuple[int, int]:
        """A new client with one identity on `connection_id`; returns (client id, identity id)."""
        cid, ident = self.client_id, self.identity_id
        self.client_id += 1
        self.identity_id += 1
        self.clients.append(
            (cid, name, phone, email, phone_normalized, email_normalized, created, fold_name(name))
        )
        self.identities.append((ident, cid, connection_id, external_id, name, created))
        return cid, ident

    def conversation(
        self,
        sim: Sim,
        *,
        sec: int,
        micro: int,
        line_id: int,
        connection_id: int,
        kind: str,
        client_id: int,
        identity_id: int,
        returning: bool,
        business: bool,
        excerpt: str,
        supervisor_rating: int | None = None,
        bodies: list[str] | None = None,
        events: list[tuple] | None = None,
        extra: tuple = (),
    ) -> int:
        """Add one played conversation starting at epoch `sec`.`micro`; returns its id.

        `bodies`: the texts of `sim.messages` in order (None: no message rows). `events`: rows
        (offset, kind, actor id, actor kind, from status, to status); None: none."""
        fmt = self.fmt
        cv = self.conv_id
        self.conv_id += 1

        def ts(off):
            return None if off is None else fmt(sec + off, micro)

        incoming = sim.incoming
        started = fmt(sec, micro)
        reply_secs = [e - s for s, e, _emp in sim.periods]
        rc = len(reply_secs)
        total = sum(reply_secs) if rc else None
        updated = max(sim.t, sim.last_message)
        self.convs.append(
            (
                cv,
                "incoming" if incoming else "outgoing",
                int(sim.status),
                line_id,
                connection_id,
                kind,
                client_id,
                identity_id,
                sim.responsible,
                started,
                ts(sim.assigned),
                ts(sim.taken),
                ts(sim.first_reply),
                ts(sim.last_message),
                ts(sim.agent_closed),
                ts(sim.closed),
                ts(updated),
                ts(sim.waiting),
                sim.closed_by,
                sim.pending,
                sim.count,
                sim.transfers,
                sim.client_rating,
                supervisor_rating,
                sim.status == Status.SPAM,
                business,
                returning,
                excerpt,
                sim.taken if incoming else None,
                sim.first_reply if incoming else None,
                sim.last_message,
                sim.agent_closed,
                rc,
                reply_secs[0] if rc else None,
                total,
                (total // rc) if rc else None,
                max(reply_secs) if rc else None,
                ts(sim.auto_close),
                ts(sim.full_close),
                ts(sim.offer_expires),
                *extra,
            )
        )
        for emp, p in sim.people.items():
            sees = p["is_responsible"] or p["was_responsible"] or p["wrote"] or p["offered_now"]
            self.parts.append(
                (
                    self.part_id,
                    cv,
                    emp,
                    started,
                    p["is_responsible"],
                    p["was_responsible"],
                    p["wrote"],
                    p["offered_now"],
                    p["ever_offered"],
                    p["took"],
                    p["skips"],
                    sees,
                )
            )
            self.part_id += 1
        for (ps, pe, emp), secs in zip(sim.periods, reply_secs, strict=True):
            self.periods.append((self.period_id, cv, emp, ts(ps), ts(pe), secs))
            self.period_id += 1
        if bodies is not None:
            for (off, author, emp), body in zip(sim.messages, bodies, strict=True):
                self.msgs.append(
                    (
                        self.msg_id,
                        cv,
                        author,
                        emp,
                        body,
                        ts(off),
                        connection_id if author == "client" else None,
                    )
                )
                self.msg_id += 1
        for off, event_kind, actor, actor_kind, from_status, to_status in events or ():
            self.events.append(
                (self.event_id, cv, event_kind, actor, actor_kind, from_status, to_status, ts(off))
            )
            self.event_id += 1
        return cv

    def write(self) -> int:
        """Write the batch's rows; returns how many messages were written."""
        self.t_client.write(self.clients)
        self.t_identity.write(self.identities)
        self.t_conv.write(self.convs)
        self.t_part.write(self.parts)
        self.t_period.write(self.periods)
        self.t_msg.write(self.msgs)
        self.t_event.write(self.events)
        fix_sequences()
        return len(self.msgs)


def fix_sequences() -> None:
    """PostgreSQL: move the id sequences of the bulk tables past the ids written by hand."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in Rows.MODELS:
            table = model._meta.db_table
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence(%s, 'id'), COALESCE((SELECT MAX(id) FROM "
                f"{connection.ops.quote_name(table)}), 1))",
                [table],
            )


class Generator:
    CONV_COLUMNS = Rows.CONV_COLUMNS

    def __init__(self, org: Org, total: int, messages_for: int, seed: int, events: bool):
        self.org, self.total, self.messages_for, self.seed, self.events = (
            org,
            total,
            messages_for,
            seed,
            events,
        )
        self.fmt = _ts_formatter(connection.vendor)
        self.rows = Rows()

    def resume(self, done: int) -> None:
        """Read back what earlier runs made: the time axis, the clients and which have an open conversation."""
        lines = [line["id"] for line in self.org.lines]
        first = (
            Conversation.objects.filter(connection__line_id__in=lines)
            .order_by("id")
            .values_list("started_at", flat=True)
            .first()
        )
        end = timezone.now().replace(microsecond=0)
        self.begin = int(first.timestamp() if first else (end - SPAN).timestamp())
        self.step = SPAN.total_seconds() / max(self.total, 1)
        conn_ids = [c["id"] for c in self.org.connections]
        self.conn_by_id = {c["id"]: c for c in self.org.connections}
        rows = (
            ClientIdentity.objects.filter(
                connection_id__in=conn_ids, external_id__startswith=f"{PREFIX}-"
            )
            .order_by("id")
            .values_list("id", "client_id", "connection_id")
        )
        self.clients = [tuple(r) for r in rows]  # (identity id, client id, connection id)
        self.open_identities = set(
            Conversation.objects.filter(
                connection_id__in=conn_ids, status__lt=lifecycle.OPEN_BELOW
            ).values_list("identity_id", flat=True)
        )
        self.rng = random.Random(f"{self.seed}-{done}")

    def chunk(self, start: int, n: int) -> int:
        rng, org, fmt, rows = self.rng, self.org, self.fmt, self.rows
        rows.start()
        end_epoch = self.begin + SPAN.total_seconds()
        messages_from = self.total - self.messages_for
        conns, weights = org.connections, org.kind_weights
        cum = []
        acc = 0.0
        for w in weights:
            acc += w
            cum.append(acc)
        n_conns = len(conns)
        lag = max(50, int(0.6 * self.total / 730))  # about a day of new clients
        for i in range(start, start + n):
            offset = i * self.step + rng.random() * self.step * 0.999
            epoch = self.begin + offset
            sec = int(epoch)
            micro = int((epoch - sec) * 1e6)
            age = end_epoch - epoch
            recent = age < RECENT
            target = _pick(rng, OPEN_RECENT if recent else OPEN_STALE, None)
            if target is None:
                target = _pick(rng, CLOSED_MIX, Status.AUTO_CLOSED)
            is_open = target < Status.CLOSED
            returning = False
            # ~40 % of conversations come from a client seen before (never for an open one: it needs
            # its own identity), picked among clients at least a day older.
            pool = len(self.clients) - lag
            if not is_open and pool > 0 and rng.random() < RETURNING_SHARE:
                for _try in range(3):
                    ident, cid, conn_pk = self.clients[rng.randrange(pool)]
                    if ident not in self.open_identities:
                        returning = True
                        conn = self.conn_by_id[conn_pk]
                        break
            if not returning:
                r = rng.random() * acc
                k = 0
                while k < n_conns - 1 and cum[k] < r:
                    k += 1
                conn = conns[k]
                seq = len(self.clients)
                name = (
                    f"{FIRST[(seq * 7 + int(rng.random() * 30)) % len(FIRST)]} {rng.choice(LAST)}"
                )
                digits = f"6{(seq * 2654435761 + 12345) % 100000000:08d}"
                phone = f"+34 {digits[:3]} {digits[3:6]} {digits[6:]}"
                email = f"client{seq}@mail.example" if conn["kind"] in ("email", "livechat") else ""
                cid, ident = rows.client(
                    name=name,
                    phone=phone,
                    email=email,
                    phone_normalized="+34" + digits,
                    email_normalized=email,
                    created=fmt(sec, micro),
                    connection_id=conn["id"],
                    external_id=f"{PREFIX}-{seq}",
                )
                self.clients.append((ident, cid, conn["id"]))
            line = org.lines[conn["line"]]
            incoming = rng.random() >= 0.05
            room = end_epoch - sec  # nothing may happen after the end of the axis (now)
            for attempt in range(6):
                want = target if attempt < 5 else Status.NEW
                if want == Status.CLOSING and not line["closing"]:
                    want = Status.AGENT_REPLIED
                sim = play(
                    rng,
                    want,
                    incoming or want == Status.NEW,
                    line["members"],
                    line["closing"],
                    line["evenly"],
                )
                if max(sim.t, sim.last_message) <= room and (
                    want != Status.CLOSING or sim.status == want
                ):
                    break
            incoming = sim.incoming
            if sim.status < Status.CLOSED:
                self.open_identities.add(ident)
            updated = max(sim.t, sim.last_message)
            if line["hours"]:
                tm = time.gmtime(sec)
                business = tm.tm_wday < 5 and 9 <= tm.tm_hour < 18
            else:
                business = True
            with_messages = i >= messages_from
            text = rng.choice(CLIENT_TEXTS if incoming else EMPLOYEE_TEXTS)
            closed = sim.status >= Status.CLOSED
            if (
                closed
                and rng.random() < 0.1
                and sim.client_rating is None
                and sim.status != Status.DUPLICATE
            ):
                sim.client_rating = 1 if rng.random() < 0.75 else -1
            supervisor_rating = rng.randint(1, 5) if closed and rng.random() < 0.03 else None
            bodies = None
            if with_messages:
                bodies = [text]
                for _off, kind, _emp in sim.messages[1:]:
                    if kind == "client":
                        bodies.append(rng.choice(CLIENT_TEXTS))
                    elif kind == "employee":
                        bodies.append(rng.choice(EMPLOYEE_TEXTS))
                    else:
                        bodies.append(CLOSING_TEXT)
            events = None
            if self.events:
                events = [
                    (
                        0,
                        "created" if incoming else "created_outgoing",
                        None if incoming else sim.responsible,
                        "client" if incoming else "employee",
                        None,
                        int(Status.NEW if incoming else Status.AGENT_REPLIED),
                    )
                ]
                if int(sim.status) not in (Status.NEW, Status.AGENT_REPLIED) or not incoming:
                    events.append((updated, "generated", None, "system", None, int(sim.status)))
            rows.conversation(
                sim,
                sec=sec,
                micro=micro,
                line_id=line["id"],
                connection_id=conn["id"],
                kind=conn["kind"],
                client_id=cid,
                identity_id=ident,
                returning=returning,
                business=business,
                excerpt=text,
                supervisor_rating=supervisor_rating,
                bodies=bodies,
                events=events,
            )
        return rows.write()
