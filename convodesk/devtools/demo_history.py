"""The demo's past: weeks of closed conversations, written in bulk through the generator's path.

Driving two thousand conversations through the services takes 40-50 s on an idle machine and ten
minutes under load (a transaction and dozens of statements per change). This plays each one's
story on `generate.Sim` (the lifecycle's rules in plain arithmetic, the same player whose rows
`invariants.check` proves equal to the services' rows) and writes the rows with `generate.Rows`
(multi-row inserts on SQLite, COPY on PostgreSQL). The statistics rollups are rebuilt afterwards
(`demo.simulate`). Each story follows `demo_transcripts.Script`: greeting and question, the
employee's greeting, a detail asked and given, the answer, thanks, goodbye, the close.

About 60 % of the clients are CRM contacts (made here in bulk, with their phone, e-mail and
channel identity, so a later message of theirs is bound to the same contact by the real rules),
and each of their conversations is linked to the contact with an activity, as binding does.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils.translation import gettext_noop

from convodesk.conversations import lifecycle
from convodesk.conversations.lifecycle import Status
from convodesk.conversations.models import Conversation, ConversationCrmLink
from convodesk.conversations.normalize import normalize_email, normalize_phone
from convodesk.crm.models import (
    Activity,
    Company,
    Contact,
    ContactEmail,
    ContactIdentity,
    ContactPhone,
    fold,
)

from . import generate
from .demo_transcripts import Script

CLOSED_MIX = [
    (Status.AUTO_CLOSED, 0.55),
    (Status.CLOSED, 0.35),
    (Status.SPAM, 0.05),
    (Status.DUPLICATE, 0.05),
]
RETURNING_SHARE = 0.4
OUTGOING_SHARE = 0.05
CONTACT_SHARE = 0.6
# Clients write mostly in the day (Madrid time): the weight of each hour of the day.
HOUR_WEIGHTS = [1, 1, 1, 1, 1, 1, 2, 4, 8, 10, 10, 10, 9, 8, 8, 9, 10, 10, 9, 7, 6, 4, 3, 2]
RATE = gettext_noop("Please rate this conversation: 👍 or 👎")
CRM_COLUMNS = ("crm_entity_type", "crm_entity_id", "crm_title")


@dataclass
class HistoryClient:
    n: int
    name: str
    lang: str
    phone: str
    email: str
    connection: object
    external_id: str
    first_sec: int
    busy_until: int = 0
    contact: Contact | None = None
    ids: tuple[int, int] | None = None  # (client id, identity id) once written


@dataclass
class Story:
    client: HistoryClient
    sec: int
    micro: int
    sim: generate.Sim
    bodies: list[str]
    events: list[tuple]
    returning: bool
    business: bool
    supervisor_rating: int | None = None
    extra: dict = field(default_factory=dict)


def _seconds(rng: random.Random, median: float, spread: float = 0.9) -> int:
    """A long-tailed human delay of about `median` seconds, at least 3."""
    return max(3, int(rng.lognormvariate(0, spread) * median))


def _starts(rng: random.Random, count: int, start: dt.datetime, end: dt.datetime) -> list[float]:
    """`count` epochs in [start, end], denser in the daytime (Madrid, UTC+1 in winter)."""
    lo, hi = start.timestamp(), end.timestamp()
    top = max(HOUR_WEIGHTS)
    out = []
    while len(out) < count:
        epoch = lo + rng.random() * (hi - lo)
        hour = (int(epoch // 3600) + 1) % 24
        if rng.random() * top < HOUR_WEIGHTS[hour]:
            out.append(epoch)
    return sorted(out)


class Player:
    """Plays one conversation's story on a `generate.Sim`, saying the script's lines in order."""

    def __init__(self, rng: random.Random, line, members: list, incoming: bool):
        self.rng, self.line, self.members = rng, line, members
        self.sim = generate.Sim(
            incoming=incoming,
            auto_close_after=line.auto_close_minutes * 60,
            full_close_after=line.full_close_minutes * 60,
        )
        self.bodies: list[str] = []
        self.events: list[tuple] = []

    def event(self, kind: str, before, actor=None, actor_kind: str = "system") -> None:
        self.events.append((self.sim.t, kind, actor, actor_kind, before, int(self.sim.status)))

    def wait(self, median: float, spread: float = 0.9) -> None:
        self.sim.t += _seconds(self.rng, median, spread)

    def client_says(self, text: str) -> None:
        self.sim.client_message()
        self.bodies.append(text)

    def employee_says(self, employee, text: str) -> None:
        self.sim.employee_message(employee.pk)
        self.bodies.append(text)

    def close(self, by: str, employee=None) -> None:
        s, before = self.sim, int(self.sim.status)
        s.close(by, self.line.closing_mode, employee.pk if employee else None)
        if s.status == Status.CLOSING:
            # The automatic texts of closing mode (services.operator.closing_texts): the Sim
            # wrote one bot message; the rating request is a second one at the same instant.
            self.bodies.append(self.line.closing_text or RATE)
            if self.line.closing_text and self.line.ask_rating:
                s.messages.append((s.t, "bot", None))
                self.bodies.append(RATE)
            self.event("closing", before, employee.pk if employee else None, _kind(by))
            if self.line.ask_rating and self.rng.random() < 0.4:
                self.wait(40)
                s.client_rating = 1 if self.rng.random() < 0.8 else -1
            else:
                s.t = s.full_close
            before = int(s.status)
            s.final_close()
            self.event("full_closed", before, None, "client" if s.client_rating else "timer")
        else:
            kind = "closed" if by == lifecycle.CLOSED_BY_EMPLOYEE else "auto_closed"
            self.event(kind, before, employee.pk if employee else None, _kind(by))

    def incoming(self, target: int, script: Script, agent) -> None:
        rng, s = self.rng, self.sim
        if target == Status.SPAM:
            self.client_says(script.spam())
        elif target == Status.DUPLICATE:
            self.client_says(script.duplicate())
        else:
            self.client_says(script.question())
        self.event("created", None, None, "client")
        if target in (Status.CLOSED, Status.AUTO_CLOSED) and rng.random() < 0.25:
            self.wait(25)
            self.client_says(script.meanwhile(rng))
        s.t += 1
        evenly = self.line.distribution != "all_at_once"
        offered = [agent] if evenly else rng.sample(self.members, min(3, len(self.members)))
        s.offer([m.pk for m in dict.fromkeys([*offered, agent])], evenly)
        if target == Status.SPAM:
            self.wait(40)
            before = int(s.status)
            s.spam(agent.pk)
            self.event("spam", before, agent.pk, "employee")
            return
        if target == Status.DUPLICATE:
            self.wait(30)
            before = int(s.status)
            s.duplicate()
            self.event("duplicate", before, None, "system")
            return
        self.wait(45, 1.1)
        before = int(s.status)
        s.take(agent.pk)
        self.event("taken", before, agent.pk, "employee")
        if rng.random() < 0.07 and len(self.members) > 1:
            colleague = rng.choice([m for m in self.members if m.pk != agent.pk])
            self.wait(30)
            before = int(s.status)
            s.transfer(colleague.pk)
            self.event("transferred", before, agent.pk, "employee")
            self.wait(40)
            before = int(s.status)
            s.take(colleague.pk)
            self.event("taken", before, colleague.pk, "employee")
            agent = colleague
            script.agent = colleague.display_name
        self.wait(20)
        self.employee_says(agent, script.greeting())
        self.wait(15)
        self.employee_says(agent, script.ask())
        self.wait(60)
        self.client_says(script.detail())
        self.wait(90)
        self.employee_says(agent, script.answer())
        if rng.random() < 0.7:
            self.wait(60)
            self.client_says(script.thanks(rng))
            self.wait(25)
            self.employee_says(agent, script.goodbye(rng))
        else:
            self.wait(40)
            self.employee_says(agent, script.anything_else())
            if target == Status.CLOSED:
                self.wait(120)
                self.client_says(script.thanks(rng))
        self.finish(target, agent)

    def outgoing(self, target: int, script: Script, agent) -> None:
        """An employee follows up with a known client; the client answers or stays silent."""
        s = self.sim
        first, reply, bye = script.outgoing()
        s.status, s.responsible, s.taken, s.first_reply = Status.AGENT_REPLIED, agent.pk, 0, 0
        s.messages.append((0, "employee", agent.pk))
        s.count, s.auto_close = 1, s.auto_close_after
        p = s.person(agent.pk)
        p["is_responsible"] = p["wrote"] = p["took"] = True
        self.bodies.append(first)
        self.event("created_outgoing", None, agent.pk, "employee")
        if target == Status.CLOSED or self.rng.random() < 0.6:
            self.wait(900, 1.2)
            self.client_says(reply)
            self.wait(40)
            self.employee_says(agent, bye)
        self.finish(
            target if target in (Status.CLOSED, Status.AUTO_CLOSED) else Status.CLOSED, agent
        )

    def finish(self, target: int, agent) -> None:
        s = self.sim
        if target == Status.AUTO_CLOSED and s.status == Status.AGENT_REPLIED:
            s.t = s.auto_close
            self.close(lifecycle.CLOSED_BY_AUTOMATIC)
        else:
            self.wait(30)
            self.close(lifecycle.CLOSED_BY_EMPLOYEE, agent)


def _kind(closed_by: str) -> str:
    return {
        lifecycle.CLOSED_BY_EMPLOYEE: "employee",
        lifecycle.CLOSED_BY_AUTOMATIC: "timer",
    }.get(closed_by, "system")


def plan(org, rng: random.Random, segments: list[tuple], latest: dt.datetime) -> list[Story]:
    """The stories of closed conversations, oldest first: for each segment (count, start, end,
    mix of final statuses), `count` of them starting in [start, end]. A story that would end
    after `latest` (its auto-close or full close still to come) is played again, then dropped."""
    connections = list(org.connections)
    stories: list[Story] = []
    clients: list[HistoryClient] = []
    starts = sorted(
        (epoch, tuple(mix))
        for count, start, end, mix in segments
        for epoch in _starts(rng, count, start, end)
    )
    last = int(latest.timestamp())
    for epoch, mix in starts:
        sec = int(epoch)
        micro = int((epoch - sec) * 1e6)
        for _attempt in range(4):
            story = _story(org, rng, clients, connections, sec, micro, mix)
            if sec + max(story.sim.t, story.sim.last_message) <= last:
                break
        else:
            continue
        client = story.client
        if not story.returning:
            clients.append(client)
        client.busy_until = sec + max(story.sim.t, story.sim.last_message)
        stories.append(story)
    return stories


def _story(org, rng, clients, connections, sec: int, micro: int, mix) -> Story:
    target = rng.choices([s for s, _ in mix], [w for _, w in mix])[0]
    client = None
    if clients and rng.random() < RETURNING_SHARE:
        candidate = rng.choice(clients)
        if candidate.busy_until < sec - 3600:
            client = candidate
    returning = client is not None
    if client is None:
        client = _new_client(rng, len(clients) + 1, rng.choice(connections), sec)
    connection = client.connection
    line = connection.line
    members = org.operators_by_line[line.pk]
    agent = rng.choice(members)
    outgoing = (
        returning
        and connection.allows_outgoing
        and target in (Status.CLOSED, Status.AUTO_CLOSED)
        and rng.random() < OUTGOING_SHARE / RETURNING_SHARE
    )
    player = Player(rng, line, members, incoming=not outgoing)
    script = Script.pick(rng, client.lang, client.name, agent.display_name)
    if outgoing:
        player.outgoing(target, script, agent)
    else:
        player.incoming(target, script, agent)
    sim = player.sim
    if sim.status != Status.DUPLICATE and sim.client_rating is None and rng.random() < 0.3:
        sim.client_rating = 1 if rng.random() < 0.78 else -1
    at = dt.datetime.fromtimestamp(sec, dt.UTC)
    return Story(
        client=client,
        sec=sec,
        micro=micro,
        sim=sim,
        bodies=player.bodies,
        events=player.events,
        returning=returning,
        business=line.within_working_hours(at),
        supervisor_rating=(
            rng.choice([2, 3, 4, 4, 5, 5])
            if sim.status in (Status.CLOSED, Status.AUTO_CLOSED) and rng.random() < 0.08
            else None
        ),
    )


def _new_client(rng: random.Random, n: int, connection, sec: int) -> HistoryClient:
    from .demo import FIRST, LAST

    lang = "es" if connection.line.name == "Soporte ES" or rng.random() < 0.3 else "en"
    name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    phone = f"+34 6{rng.randint(10, 99)} {rng.randint(100, 999)} {rng.randint(100, 999)}"
    email = f"{fold(name.split()[0])}.h{n}@example.net"
    external = {
        "telegram": str(700000 + n),
        "email": email,
        "livechat": f"demo-visitor-{n:05d}",
        "api": f"crm-h{n}",
    }[connection.kind]
    return HistoryClient(n, name, lang, phone, email, connection, external, sec)


def write(org, stories: list[Story], rng: random.Random) -> int:
    """Write the planned stories (and their clients' CRM contacts) in one transaction; returns
    the number of conversations written."""
    with transaction.atomic():
        generate._skip_fk_triggers()
        # The clients first seen in this batch (a returning client was written with an earlier one).
        clients = [c for c in {id(s.client): s.client for s in stories}.values() if c.ids is None]
        _contacts(org, clients, rng)
        rows = generate.Rows(conv_extra=CRM_COLUMNS)
        rows.start()
        fmt = rows.fmt
        for c in clients:
            created = fmt(c.first_sec, 0)
            c.ids = rows.client(
                name=c.name,
                phone=c.phone,
                email=c.email,
                phone_normalized=normalize_phone(c.phone, "ES"),
                email_normalized=normalize_email(c.email),
                created=created,
                connection_id=c.connection.pk,
                external_id=c.external_id,
            )
        bound = []
        for s in stories:
            c = s.client
            contact = c.contact
            conv_id = rows.conversation(
                s.sim,
                sec=s.sec,
                micro=s.micro,
                line_id=c.connection.line_id,
                connection_id=c.connection.pk,
                kind=c.connection.kind,
                client_id=c.ids[0],
                identity_id=c.ids[1],
                returning=s.returning,
                business=s.business,
                excerpt=s.bodies[0][:200],
                supervisor_rating=s.supervisor_rating,
                bodies=s.bodies,
                events=s.events,
                extra=("contact", contact.pk, contact.name) if contact else ("", None, ""),
            )
            if contact:
                bound.append((conv_id, s, contact))
        rows.write()
        _links(bound)
    return len(stories)


def _contacts(org, clients: list[HistoryClient], rng: random.Random) -> None:
    """CRM contacts for about 60 % of the clients, with their phone, e-mail and identity."""
    companies = list(Company.objects.order_by("id"))
    chosen = [c for c in clients if rng.random() < CONTACT_SHARE]
    contacts = []
    for c in chosen:
        members = org.operators_by_line[c.connection.line_id]
        phone_normalized = normalize_phone(c.phone, "ES")
        contact = Contact(
            name=c.name,
            name_key=fold(c.name)[:255],
            responsible=rng.choice(members),
            company=rng.choice(companies) if companies and rng.random() < 0.3 else None,
            search=fold(" ".join([c.name, c.phone, phone_normalized, normalize_email(c.email)])),
        )
        c.contact = contact
        contacts.append(contact)
    Contact.objects.bulk_create(contacts, batch_size=500)
    ContactPhone.objects.bulk_create(
        [
            ContactPhone(
                contact=c.contact, value=c.phone, normalized=normalize_phone(c.phone, "ES")
            )
            for c in chosen
        ],
        batch_size=500,
    )
    ContactEmail.objects.bulk_create(
        [
            ContactEmail(contact=c.contact, value=c.email, normalized=normalize_email(c.email))
            for c in chosen
        ],
        batch_size=500,
    )
    ContactIdentity.objects.bulk_create(
        [
            ContactIdentity(
                contact=c.contact, connection_id=c.connection.pk, external_id=c.external_id
            )
            for c in chosen
        ],
        batch_size=500,
    )


def _links(bound: list) -> None:
    """Each bound conversation's link and activity, as binding writes them, in bulk."""
    from django.utils.translation import gettext

    ConversationCrmLink.objects.bulk_create(
        [
            ConversationCrmLink(
                conversation_id=conv_id,
                entity_type="contact",
                entity_id=contact.pk,
                title=contact.name[:255],
                is_primary=True,
            )
            for conv_id, _s, contact in bound
        ],
        batch_size=500,
    )
    subject = gettext("Open channel conversation #%(id)s — %(client)s")
    activities = []
    for conv_id, s, contact in bound:
        start = dt.datetime.fromtimestamp(s.sec + s.micro / 1e6, dt.UTC)
        end = start + dt.timedelta(seconds=s.sim.closed or 0)
        activities.append(
            Activity(
                subject=(subject % {"id": conv_id, "client": s.client.name})[:255],
                direction=(
                    Activity.Direction.INCOMING if s.sim.incoming else Activity.Direction.OUTGOING
                ),
                start_at=start,
                end_at=end,
                responsible_id=s.sim.responsible,
                completed=True,
                conversation_id=conv_id,
                owner_type="contact",
                owner_id=contact.pk,
            )
        )
    Activity.objects.bulk_create(activities, batch_size=500)
    Conversation.objects.filter(pk__in=[b[0] for b in bound]).update(
        crm_activity_id=Subquery(
            Activity.objects.filter(conversation_id=OuterRef("pk")).values("pk")[:1]
        )
    )
