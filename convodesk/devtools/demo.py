"""A believable organisation and two months of conversations.

The organisation (people, open channels, connections, quick replies) is made through the services
as the settings screens make it. The weeks of closed history are written in bulk through the
generator's path (demo_history), and today's conversations, in every open status, are driven
through `services` with a controlled clock; the statistics rollups are rebuilt at the end. Both
writers pass `invariants.check`, and every transcript follows `demo_transcripts.Script`.
The load is a list of steps (ORGANISATION_STEPS, CONVERSATION_STEPS).
"""

from __future__ import annotations

import datetime as dt
import random
import time
from dataclasses import dataclass

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from convodesk.accounts.defaults import install_default_roles
from convodesk.accounts.models import Role, User
from convodesk.conversations import hooks, services
from convodesk.conversations.lifecycle import Status
from convodesk.conversations.models import ClientIdentity, Conversation, Message
from convodesk.conversations.services import Actor
from convodesk.lines.models import Connection, Line

from . import crm_demo, demo_composer, demo_history, demo_quick_replies, demo_sla, demo_tags
from .demo_transcripts import Script

DEMO_PASSWORD = "convodesk"

LOGINS = [
    ("admin", "Administrator — sees and does everything"),
    ("maria", "Supervisor of the Support department (department access)"),
    ("alex", "Operator in Support (own conversations)"),
    ("lucia", "Operator in Support ES (own conversations)"),
]

FIRST = [
    "Ana",
    "Luis",
    "Carmen",
    "Pedro",
    "Laura",
    "Carlos",
    "Elena",
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
    "Valeria",
]
LAST = [
    "García",
    "Rodríguez",
    "Smith",
    "Johnson",
    "López",
    "Martínez",
    "Brown",
    "Sánchez",
    "Pérez",
    "Taylor",
    "Gómez",
    "Wilson",
    "Díaz",
    "Moreno",
    "Clark",
    "Romero",
    "Navarro",
    "Walker",
    "Torres",
    "Hall",
]


@dataclass
class DemoOrg:
    lines: list[Line]
    connections: list[Connection]
    operators_by_line: dict[int, list[User]]
    supervisor: User


def build_organisation() -> DemoOrg:
    """The demo company, made through the same services as the settings screens and the API
    (so it is validated and audited like a real set-up), by its administrator. Two shortcuts,
    both for speed and both demo-only: every employee gets the one demo password hash at once
    (hashing is deliberately slow), and the Telegram and e-mail connections, which stand for
    channels with no outside system behind them, are written without the token and mailbox
    checks those kinds require."""
    from convodesk.accounts import services as people
    from convodesk.connectors import setup
    from convodesk.lines import services as lines

    install_default_roles(Role)  # normally there since the first migration
    admin = User.objects.create_superuser(
        "admin", "admin@example.com", DEMO_PASSWORD, display_name="Admin"
    )
    roles = {r.name: r for r in Role.objects.all()}
    support = people.create_department(admin, name="Support")
    support_es = people.create_department(admin, name="Support ES", parent=support)
    sales = people.create_department(admin, name="Sales")
    billing = people.create_department(admin, name="Billing")
    supervisor_role = roles.get("Department supervisor") or people.create_role(
        admin,
        name="Department supervisor",
        levels=dict(
            view_conversations=20,
            view_history=20,
            view_statistics=20,
            act=20,
            rate=20,
            export=30,
            view_lines=30,
            edit_lines=0,
            settings=0,
        ),
    )
    people.update_role(admin, roles["Manager"], departments=[support.pk])
    users = {}

    def employee(username, name, departments, extra_roles=(), **extra):
        users[username] = people.create_employee(
            admin,
            username=username,
            display_name=name,
            email=f"{username}@example.com",
            departments=departments,
            roles=[roles["Manager"], *extra_roles],
            **extra,
        )
        return users[username]

    maria = employee(
        "maria",
        "María Torres",
        [support],
        [supervisor_role],
        language="es",
        time_zone="Europe/Madrid",
    )
    people_spec = [
        ("alex", "Alex Johnson", support),
        ("lucia", "Lucía Navarro", support_es),
        ("sam", "Sam Walker", support),
        ("ines", "Inés Romero", support_es),
        ("omar", "Omar Haddad", support),
        ("chloe", "Chloe Martin", support),
        ("pablo", "Pablo Gil", support_es),
        ("nora", "Nora Blanco", support_es),
        ("liam", "Liam Taylor", sales),
        ("sara", "Sara Molina", sales),
        ("ethan", "Ethan Clark", sales),
        ("paula", "Paula Ramos", sales),
        ("david", "David Serrano", sales),
        ("mia", "Mia Hall", sales),
        ("ivan", "Iván Ruiz", billing),
        ("julia", "Julia Vázquez", billing),
        ("noah", "Noah Brown", billing),
        ("eva", "Eva Domínguez", billing),
        ("leo", "Leo Wilson", support),
        ("alba", "Alba Ortega", support_es),
        ("max", "Max Fischer", sales),
        ("rosa", "Rosa Medina", billing),
        ("tom", "Tom Baker", support),
    ]
    for username, name, dep in people_spec:
        employee(username, name, [dep], language="es" if dep == support_es else "en")
    employee("victor", "Víctor Prieto", [sales], [roles["Chief executive"]])
    User.objects.filter(pk__in=[u.pk for u in users.values()]).update(
        password=make_password(DEMO_PASSWORD)
    )
    specs = [
        (
            "Support",
            "all_at_once",
            ["alex", "sam", "omar", "chloe", "leo", "tom"],
            ["livechat", "email"],
            "",
        ),
        (
            "Soporte ES",
            "all_at_once",
            ["lucia", "ines", "pablo", "nora", "alba"],
            ["telegram", "livechat"],
            "",
        ),
        (
            "Sales",
            "evenly",
            ["liam", "sara", "ethan", "paula", "david", "mia", "max"],
            ["livechat", "telegram"],
            "",
        ),
        (
            "Billing",
            "strict",
            ["ivan", "julia", "noah", "eva", "rosa"],
            ["email", "api"],
            "Thank you for contacting Billing. This conversation will now close.",
        ),
        ("Partners", "all_at_once", ["sara", "ivan", "alex"], ["api"], ""),
        ("VIP", "evenly", ["alex", "lucia", "liam", "ivan"], ["livechat", "telegram", "email"], ""),
    ]
    lines_made, connections, operators = [], [], {}
    for name, distribution, members, kinds, closing_text in specs:
        line = lines.create_line(
            admin,
            name=name,
            distribution=distribution,
            closing_text=closing_text,
            ask_rating=bool(closing_text),
            full_close_minutes=60,
            reopen_window_minutes=30 if name == "Support" else 0,
            working_hours={str(d): [["08:00", "20:00"]] for d in range(5)},
            time_zone="Europe/Madrid",
            members=[users[u].pk for u in members],
        )
        operators[line.pk] = [users[u] for u in members]
        for kind in kinds:
            label = f"{name} · {dict(Connection.Kind.choices)[kind]}"
            if kind in (Connection.Kind.LIVECHAT, Connection.Kind.API):
                # No webhook: the demo has no outside system to deliver to.
                config = {"ask_name": True, "ask_email": True} if kind == "livechat" else {}
                connection, _secret = setup.create_connection(
                    line, kind, label, config, allowed_origins=[], actor=admin
                )
                if (name, kind) == ("Support", "livechat"):
                    # The key README and `make run` name for the demo page.
                    Connection.objects.filter(pk=connection.pk).update(public_key="demo")
                    connection.public_key = "demo"
            else:
                connection = Connection.objects.create(
                    line=line, kind=kind, name=label, config={}, public_key=_key()
                )
            connections.append(connection)
        lines_made.append(line)
    return DemoOrg(lines_made, connections, operators, maria)


def _key():
    from convodesk.crypto import new_secret

    return new_secret(16)


class Simulation:
    """Drives conversations through the services, oldest first, with a simulated clock."""

    def __init__(self, org: DemoOrg, rng: random.Random, now: dt.datetime, cap: float = 3600):
        self.org, self.rng, self.now = org, rng, now
        self.cap = cap  # the longest pause between two steps, in seconds
        self.clients: list[dict] = []
        self.free_at: dict[int, dt.datetime] = {}

    def _seconds(self, median: float, spread: float = 1.0) -> float:
        return max(1.0, self.rng.lognormvariate(0, spread) * median)

    def _client_for(self, connection: Connection, start: dt.datetime) -> dict:
        pool = [
            c
            for c in self.clients
            if c["kind"] == connection.kind and self.free_at.get(c["n"], start) <= start
        ]
        if pool and self.rng.random() < 0.4:
            return self.rng.choice(pool)
        n = len(self.clients) + 1
        lang = "es" if connection.line.name in ("Soporte ES",) or self.rng.random() < 0.3 else "en"
        name = f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}"
        phone = f"+34 6{self.rng.randint(10, 99)} {self.rng.randint(100, 999)} {self.rng.randint(100, 999)}"
        email = (
            f"{name.split()[0].lower()}.{n}@example.net".replace("í", "i")
            .replace("ú", "u")
            .replace("é", "e")
        )
        ext = {
            "telegram": str(500000 + n),
            "email": email,
            "livechat": f"demo-browser-{n:05d}",
            "api": f"crm-{n}",
        }
        client = {
            "n": n,
            "kind": connection.kind,
            "name": name,
            "lang": lang,
            "phone": phone,
            "email": email,
            "ext": ext[connection.kind],
            "connection": connection,
        }
        if (
            self.rng.random() < 0.25
        ):  # already a CRM contact: the binding rules find them by phone or e-mail
            crm_demo.seed(
                self.rng,
                [(name, phone, email)],
                responsible=self.org.operators_by_line[connection.line_id],
            )
        self.clients.append(client)
        return client

    def offered_to(self, conv: Conversation, fallback: User) -> User:
        conv.refresh_from_db()
        if conv.responsible_id:
            return User.objects.get(pk=conv.responsible_id)
        offered = conv.participants.filter(offered_now=True).select_related("employee").first()
        return offered.employee if offered else fallback

    def settle(self, conversation_id: int) -> None:
        """Let a conversation in closing mode reach its full close when that lies in the past."""
        conv = Conversation.objects.get(pk=conversation_id)
        if conv.status == Status.CLOSING and conv.full_close_at and conv.full_close_at < self.now:
            services.fire_due(conversation_id, now=conv.full_close_at)

    def run_one(self, start: dt.datetime, target: int, outgoing: bool = False) -> Conversation:
        """One conversation through the services, from `start`, ending at status `target`; its
        lines follow a `Script` (question, greeting, detail, answer, thanks, goodbye)."""
        rng = self.rng
        connection = rng.choice(self.org.connections)
        client = self._client_for(connection, start)
        lang = client["lang"]
        operators = self.org.operators_by_line[connection.line_id]
        agent = rng.choice(operators)
        actor = Actor.of(agent)
        script = Script.pick(rng, lang, client["name"], agent.display_name)
        t = start
        if outgoing and not connection.allows_outgoing:
            outgoing = False  # e.g. an API connection without a webhook cannot start one

        def later(median: float, spread: float = 1.0) -> dt.datetime:
            nonlocal t
            t += dt.timedelta(seconds=min(self.cap, self._seconds(median, spread)))
            return t

        def client_says(text: str, **extra):
            return services.receive_client_message(
                connection, client_external_id=client["ext"], text=text, now=t, **extra
            )

        if outgoing:
            identity = ClientIdentity.objects.filter(
                connection=connection, external_id=client["ext"]
            ).first()
            if identity is None:  # a first conversation the day before, to follow up on
                earlier = t - dt.timedelta(days=1)
                received = services.receive_client_message(
                    connection,
                    client_external_id=client["ext"],
                    client_name=client["name"],
                    phone=client["phone"],
                    email=client["email"],
                    text=script.question(),
                    now=earlier,
                )
                conv = received.conversation
                helper_user = self.offered_to(conv, operators[0])
                helper = Actor.of(helper_user)
                script.agent = helper_user.display_name
                services.reply(
                    conv.pk, helper, script.greeting(), now=earlier + dt.timedelta(minutes=1)
                )
                script.agent = agent.display_name
                services.reply(
                    conv.pk, helper, script.answer(), now=earlier + dt.timedelta(minutes=3)
                )
                services.close(conv.pk, helper, now=earlier + dt.timedelta(minutes=5))
                self.settle(conv.pk)
                identity = ClientIdentity.objects.get(pk=conv.identity_id)
            first, reply, bye = script.outgoing()
            conv = services.start_outgoing(actor, identity, first, now=t)
            if target >= Status.CLOSED:
                later(600)
                client_says(reply)
                services.reply(conv.pk, actor, bye, now=later(60))
                services.close(conv.pk, actor, now=later(60))
                self.settle(conv.pk)
            self.free_at[client["n"]] = t + dt.timedelta(hours=5)
            return conv

        first_text = {Status.SPAM: script.spam(), Status.DUPLICATE: script.duplicate()}.get(
            target, script.question()
        )
        received = client_says(
            first_text,
            client_name=client["name"],
            phone=client["phone"],
            email=client["email"],
            source_url="https://shop.example.com/orders" if connection.kind == "livechat" else "",
        )
        conv = received.conversation
        self.free_at[client["n"]] = start + dt.timedelta(days=2)
        if target == Status.NEW:
            return conv
        if target == Status.SKIPPED:
            other = next(line for line in self.org.lines if line.pk != connection.line_id)
            services.transfer(
                conv.pk,
                Actor.of(_admin()),
                to_line=other,
                comment="Better handled there",
                now=later(40),
            )
            return conv
        if target == Status.SPAM:
            services.mark_spam(conv.pk, Actor.of(self.offered_to(conv, agent)), now=later(30))
            return conv
        if target == Status.DUPLICATE:
            services.mark_duplicate(
                conv.pk, Actor.of(_admin()), of_conversation_id=max(conv.pk - 1, 1), now=later(20)
            )
            return conv

        # Someone takes it after a while.
        later(45, 1.2)
        if connection.line.distribution != "all_at_once":
            conv.refresh_from_db()
            if conv.responsible_id:
                agent = User.objects.get(pk=conv.responsible_id)
                actor = Actor.of(agent)
                script.agent = agent.display_name
        services.take(conv.pk, actor, now=t)
        if target == Status.TAKEN:
            return conv
        if target == Status.CLIENT_WROTE:
            later(30)
            client_says(script.meanwhile(rng))
            return conv
        if rng.random() < 0.12:  # a transfer to a colleague, who takes it
            colleague = rng.choice([o for o in operators if o.pk != agent.pk] or operators)
            services.transfer(
                conv.pk,
                actor,
                to_employee=colleague,
                comment="Can you take this one?",
                now=later(60),
            )
            agent, actor = colleague, Actor.of(colleague)
            script.agent = colleague.display_name
            services.take(conv.pk, actor, now=later(40))
        services.reply(conv.pk, actor, script.greeting(), now=later(20))
        services.reply(conv.pk, actor, script.ask(), now=later(15))
        later(60)
        client_says(script.detail())
        if target == Status.CLIENT_WROTE_AFTER_AGENT:
            return conv
        services.reply(conv.pk, actor, script.answer(), now=later(90))
        if target == Status.AGENT_REPLIED:
            return conv
        if rng.random() < 0.06:
            services.pin(conv.pk, actor, True, now=t)
        later(60)
        client_says(script.thanks(rng))
        services.reply(conv.pk, actor, script.goodbye(rng), now=later(25))
        services.close(conv.pk, actor, now=later(30))
        conv.refresh_from_db()
        if conv.status == Status.CLOSING:
            services.client_rate(conv.pk, rng.random() < 0.8, now=t + dt.timedelta(minutes=1))
        elif rng.random() < 0.35:
            services.client_rate(conv.pk, rng.random() < 0.78, now=t + dt.timedelta(minutes=1))
        if rng.random() < 0.08:
            services.supervisor_rate(
                conv.pk,
                Actor.of(_admin()),
                rng.choice([3, 4, 4, 5, 5, 2]),
                rng.choice(["Good tone", "Could be faster", "Excellent", ""]),
                now=t + dt.timedelta(minutes=2),
            )
        return conv


_ADMIN = {}


def _admin() -> User:
    if "u" not in _ADMIN or not User.objects.filter(pk=_ADMIN["u"].pk).exists():
        _ADMIN["u"] = User.objects.get(username="admin")
    return _ADMIN["u"]


def load_organisation(seed: int = 7) -> DemoOrg:
    """The departments, employees, roles, open channels, CRM companies and quick replies, made
    through the services (a few seconds): `build_organisation`, then each of ORGANISATION_STEPS."""
    rng = random.Random(seed)
    _ADMIN.clear()
    with hooks.publishing_suspended(), transaction.atomic():
        org = build_organisation()
        for step in ORGANISATION_STEPS:
            step(org, rng)
    return org


def _crm(org: DemoOrg, rng: random.Random) -> None:
    """CRM companies; Sales binds open deals, Partners makes contacts instead of leads."""
    crm_demo.seed(rng, [], lines=[org.lines[2], org.lines[4]])


def organisation_from_db() -> DemoOrg:
    """The demo organisation as `build_organisation` made it, read back (for another process)."""
    lines = list(Line.objects.order_by("id"))
    operators = {
        line.pk: [
            m.user for m in line.memberships.select_related("user").order_by("position", "id")
        ]
        for line in lines
    }
    connections = list(Connection.objects.select_related("line").order_by("id"))
    return DemoOrg(lines, connections, operators, User.objects.get(username="maria"))


# The last couple of hours, made through the services: (minutes ago, target status, outgoing).
# Nobody's queue holds a conversation older than a quarter of an hour: the ones waiting for an
# employee (new, transferred, client wrote) started or last wrote minutes ago; the older ones of
# today were answered (waiting for the client) or closed. Closing mode: see _closing_examples.
TODAY = [
    *[(140 - i * 15, Status.AGENT_REPLIED, False) for i in range(8)],
    (40, Status.DUPLICATE, False),
    (25, Status.CLOSED, True),
    (15, Status.CLOSED, False),
    (12, Status.CLIENT_WROTE_AFTER_AGENT, False),
    (9, Status.CLIENT_WROTE_AFTER_AGENT, False),
    (8, Status.CLIENT_WROTE_AFTER_AGENT, False),
    (9, Status.TAKEN, False),
    (6, Status.TAKEN, False),
    (4, Status.TAKEN, False),
    (8, Status.CLIENT_WROTE, False),
    (5, Status.CLIENT_WROTE, False),
    (7, Status.SKIPPED, False),
    (3, Status.SKIPPED, False),
    (6, Status.NEW, False),
    (3, Status.NEW, False),
    (1, Status.NEW, False),
]
CLOSED_MIX = demo_history.CLOSED_MIX
HISTORY_CHUNK = 600  # conversations per transaction of the bulk history


@dataclass
class Run:
    """What the steps of one demo load share."""

    org: DemoOrg
    rng: random.Random
    now: dt.datetime
    conversations: int
    days: int
    progress: object = None
    pause: float = 0.0
    done: int = 0

    def report(self, n: int) -> None:
        self.done += n
        if self.progress:
            self.progress(min(self.done, self.conversations), self.conversations)


TODAY_CLOSED = 20  # closed by an employee in the last few hours (bulk, with the history)


def _history(run: Run) -> None:
    """The weeks before today and the conversations already closed today, written in bulk
    (demo_history); whatever would still be open (an auto-close or full close to come) is not."""
    count = max(0, run.conversations - len(TODAY) - 4 - TODAY_CLOSED)
    now = run.now
    segments = [
        (count, now - dt.timedelta(days=run.days), now - dt.timedelta(hours=6), CLOSED_MIX),
        (
            TODAY_CLOSED,
            now - dt.timedelta(hours=3),
            now - dt.timedelta(minutes=20),
            [(Status.CLOSED, 0.9), (Status.SPAM, 0.1)],
        ),
    ]
    stories = demo_history.plan(run.org, run.rng, segments, now - dt.timedelta(minutes=1))
    for first in range(0, len(stories), HISTORY_CHUNK):
        demo_history.write(run.org, stories[first : first + HISTORY_CHUNK], run.rng)
        run.report(len(stories[first : first + HISTORY_CHUNK]))
        if run.pause:
            # SQLite has one writer and its waiting is not first come, first served: leave a
            # gap longer than its longest retry sleep (100 ms) so the server and worker get in.
            time.sleep(run.pause)


def _today(run: Run) -> None:
    """Today's conversations, through the services on a controlled clock, one transaction each."""
    sim = Simulation(run.org, run.rng, run.now, cap=90)
    for minutes, target, outgoing in sorted(TODAY, key=lambda p: -p[0]):
        with transaction.atomic():
            sim.run_one(run.now - dt.timedelta(minutes=minutes), target, outgoing=outgoing)
    with transaction.atomic():
        _closing_examples(sim, run.now)
    run.report(len(TODAY) + 4)


def _targets(run: Run) -> None:
    """Reply-time targets on every open channel before today's waits begin (demo_sla)."""
    with transaction.atomic():
        demo_sla.set_targets(run.org)


def _breaches(run: Run) -> None:
    """The timers' pass at the load's now: overdue waits get their breach (demo_sla)."""
    demo_sla.record_breaches(run.now)


def _notes(run: Run) -> None:
    """Private notes, some with a file, on a few conversations an employee holds (demo_composer)."""
    with transaction.atomic():
        demo_composer.add_notes_and_files(run.now)


def _tags(run: Run) -> None:
    """Tags and close reasons (demo_tags), set through the services on about half the
    conversations; Billing then requires a close reason."""
    demo_tags.add_tags_and_close_reasons(seed=run.rng.randrange(1 << 30), now=run.now)


def _delivered(run: Run) -> None:
    """The simulated past was delivered at the time: nothing is waiting to go out."""
    Message.objects.filter(author_kind__in=["employee", "bot"]).exclude(
        conversation__channel="livechat"
    ).update(delivery_state=Message.Delivery.SENT)


def _rollups(run: Run) -> None:
    """The statistics rollups, computed once over everything (the bulk rows bypass them)."""
    from convodesk.stats import rollups

    rollups.rebuild()


# The steps of a demo load, in order; each takes the shared state. A new part of the demo (tags,
# SLA, notes…) is a small module `demo_<topic>.py` with a step added to one of these lists.
ORGANISATION_STEPS = [_crm, demo_quick_replies.seed]
CONVERSATION_STEPS = [_history, _targets, _today, _breaches, _notes, _tags, _delivered, _rollups]


def simulate(
    org: DemoOrg,
    conversations: int = 2100,
    days: int = 60,
    seed: int = 7,
    now: dt.datetime | None = None,
    progress=None,
    pause: float = 0.0,
    timings: dict | None = None,
) -> None:
    """`conversations` conversations over the last `days` days: the bulk of the history written
    through the generator's path, today's conversations (every open status, all recent) through
    the services, then the statistics rollups rebuilt. `pause` (seconds) between transactions
    lets other writers in when the server runs alongside. `timings` (a dict) receives each
    step's wall time in seconds."""
    run = Run(
        org,
        random.Random(seed + 1),
        (now or timezone.now()).replace(microsecond=0),
        conversations,
        days,
        progress,
        pause,
    )
    _ADMIN.clear()
    with hooks.publishing_suspended():
        for step in CONVERSATION_STEPS:
            started = time.monotonic()
            step(run)
            if timings is not None:
                timings[step.__name__.strip("_")] = time.monotonic() - started


def load(
    conversations: int = 2100,
    days: int = 60,
    seed: int = 7,
    now: dt.datetime | None = None,
    progress=None,
    timings: dict | None = None,
) -> DemoOrg:
    """Build the organisation and simulate `conversations` over the last `days` days."""
    started = time.monotonic()
    org = load_organisation(seed)
    if timings is not None:
        timings["organisation"] = time.monotonic() - started
    simulate(
        org,
        conversations=conversations,
        days=days,
        seed=seed,
        now=now,
        progress=progress,
        timings=timings,
    )
    return org


def _closing_examples(sim: Simulation, now: dt.datetime) -> None:
    """A few conversations in closing mode on the Billing line (it sends a closing text)."""
    billing = next(line for line in sim.org.lines if line.name == "Billing")
    connection = billing.connections.first()
    agent = sim.org.operators_by_line[billing.pk][0]
    for i in range(4):
        t = now - dt.timedelta(minutes=30 - i * 5)
        ext = f"closing-demo-{i}"
        name = f"{FIRST[i]} {LAST[i]}"
        received = services.receive_client_message(
            connection,
            client_external_id=ext,
            client_name=name,
            text="Hello, where is my invoice for November?",
            now=t,
            email=f"{ext}@example.net",
        )
        conv = received.conversation
        conv.refresh_from_db()
        employee = User.objects.get(pk=conv.responsible_id) if conv.responsible_id else agent
        actor = Actor.of(employee)
        services.take(conv.pk, actor, now=t + dt.timedelta(seconds=40))
        services.reply(
            conv.pk,
            actor,
            f"Hello {name.split()[0]}, I've just sent it again to your e-mail.",
            now=t + dt.timedelta(seconds=95),
        )
        services.receive_client_message(
            connection,
            client_external_id=ext,
            text="Got it, thank you!",
            now=t + dt.timedelta(seconds=130),
        )
        services.close(conv.pk, actor, now=t + dt.timedelta(seconds=150))
