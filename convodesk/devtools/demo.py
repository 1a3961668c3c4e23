"""A believable organisation and two months of conversations, made by the real services.

Every conversation is driven through `services` with a controlled clock, so its statuses,
events, participants and metrics are exactly what production would store.
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

from . import crm_demo

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

CLIENT_LINES = {
    "en": [
        "Hi, I ordered last week and the parcel hasn't arrived yet.",
        "Can I change the delivery address for order 4821?",
        "Your app keeps logging me out, any idea why?",
        "I was charged twice for the same subscription.",
        "Do you ship to Portugal?",
        "How do I reset my password?",
        "Is the premium plan billed monthly or yearly?",
        "The invoice has the wrong company name on it.",
        "I'd like to return a pair of shoes, they're too small.",
        "Hello? Is anyone there?",
        "Thanks, that worked!",
        "Great, thank you very much.",
        "One more question: can I pay by bank transfer?",
    ],
    "es": [
        "Hola, hice un pedido la semana pasada y todavía no ha llegado.",
        "¿Puedo cambiar la dirección de entrega del pedido 4821?",
        "La aplicación me cierra la sesión todo el rato.",
        "Me han cobrado dos veces la misma suscripción.",
        "¿Hacéis envíos a Canarias?",
        "¿Cómo restablezco mi contraseña?",
        "La factura tiene mal el nombre de la empresa.",
        "Quiero devolver unas zapatillas, me quedan pequeñas.",
        "¿Hola? ¿Hay alguien?",
        "¡Gracias, ya funciona!",
        "Perfecto, muchas gracias.",
        "Una pregunta más: ¿puedo pagar por transferencia?",
    ],
}
AGENT_LINES = {
    "en": [
        "Hello! Let me check that for you.",
        "Thanks for waiting. I can see your order, it left our warehouse yesterday.",
        "I've updated the address, you'll get a confirmation e-mail shortly.",
        "I've refunded the duplicate charge; it takes 3–5 working days.",
        "Yes, we ship to Portugal, delivery takes 2–4 days.",
        "You can reset it from the login page with “Forgot password”.",
        "Is there anything else I can help you with?",
    ],
    "es": [
        "¡Hola! Déjame comprobarlo.",
        "Gracias por esperar. Veo tu pedido, salió ayer del almacén.",
        "He actualizado la dirección, recibirás un correo de confirmación.",
        "He devuelto el cargo duplicado; tarda de 3 a 5 días hábiles.",
        "Sí, enviamos a Canarias, tarda de 3 a 5 días.",
        "Puedes restablecerla desde la página de acceso con «He olvidado mi contraseña».",
        "¿Puedo ayudarte en algo más?",
    ],
}
OUTGOING_LINES = {
    "en": "Hi! Following up on your request from yesterday — is everything sorted?",
    "es": "¡Hola! Te escribo por tu consulta de ayer, ¿quedó todo resuelto?",
}


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

    def __init__(self, org: DemoOrg, rng: random.Random, now: dt.datetime):
        self.org, self.rng, self.now = org, rng, now
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
        rng = self.rng
        connection = rng.choice(self.org.connections)
        client = self._client_for(connection, start)
        lang = client["lang"]
        operators = self.org.operators_by_line[connection.line_id]
        agent = rng.choice(operators)
        actor = Actor.of(agent)
        t = start
        if outgoing and not connection.allows_outgoing:
            outgoing = False  # e.g. an API connection without a webhook cannot start one

        if outgoing:
            identity = ClientIdentity.objects.filter(
                connection=connection, external_id=client["ext"]
            ).first()
            if identity is None:
                services.receive_client_message(
                    connection,
                    client_external_id=client["ext"],
                    client_name=client["name"],
                    phone=client["phone"],
                    email=client["email"],
                    text=rng.choice(CLIENT_LINES[lang]),
                    now=t - dt.timedelta(days=1),
                )
                conv = Conversation.objects.filter(
                    identity__external_id=client["ext"], connection=connection
                ).latest("id")
                services.close(
                    conv.pk,
                    Actor.of(self.offered_to(conv, operators[0])),
                    now=t - dt.timedelta(days=1) + dt.timedelta(minutes=5),
                )
                self.settle(conv.pk)
                identity = conv.identity
            conv = services.start_outgoing(actor, identity, OUTGOING_LINES[lang], now=t)
            if target >= Status.CLOSED:
                t += dt.timedelta(seconds=self._seconds(600))
                services.receive_client_message(
                    connection,
                    client_external_id=client["ext"],
                    text=rng.choice(CLIENT_LINES[lang][-3:]),
                    now=t,
                )
                t += dt.timedelta(seconds=self._seconds(60))
                services.reply(conv.pk, actor, rng.choice(AGENT_LINES[lang][-1:]), now=t)
                t += dt.timedelta(seconds=self._seconds(120))
                services.close(conv.pk, actor, now=t)
                self.settle(conv.pk)
            self.free_at[client["n"]] = t + dt.timedelta(hours=5)
            return conv

        received = services.receive_client_message(
            connection,
            client_external_id=client["ext"],
            client_name=client["name"],
            phone=client["phone"],
            email=client["email"],
            text=rng.choice(CLIENT_LINES[lang][:10]),
            now=t,
            source_url="https://shop.example.com/orders" if connection.kind == "livechat" else "",
        )
        conv = received.conversation
        self.free_at[client["n"]] = start + dt.timedelta(days=2)
        if target in (Status.NEW,):
            return conv
        if target == Status.SKIPPED:
            t += dt.timedelta(seconds=self._seconds(40))
            other = rng.choice(self.org.lines)
            services.transfer(
                conv.pk, Actor.of(_admin()), to_line=other, comment="Better handled there", now=t
            )
            return conv
        if target == Status.SPAM and rng.random() < 0.5:
            t += dt.timedelta(seconds=self._seconds(30))
            services.mark_spam(conv.pk, Actor.of(self.offered_to(conv, agent)), now=t)
            return conv
        if target == Status.DUPLICATE:
            t += dt.timedelta(seconds=self._seconds(20))
            services.mark_duplicate(
                conv.pk, Actor.of(_admin()), of_conversation_id=max(conv.pk - 1, 1), now=t
            )
            return conv

        # Someone takes it after a while (minutes when the queue is busy).
        t += dt.timedelta(seconds=self._seconds(45, 1.2))
        if connection.line.distribution != "all_at_once":
            conv.refresh_from_db()
            if conv.responsible_id:
                agent = User.objects.get(pk=conv.responsible_id)
                actor = Actor.of(agent)
        services.take(conv.pk, actor, now=t)
        if target == Status.TAKEN:
            return conv
        if target == Status.CLIENT_WROTE:
            t += dt.timedelta(seconds=self._seconds(30))
            services.receive_client_message(
                connection, client_external_id=client["ext"], text="?", now=t
            )
            return conv
        if rng.random() < 0.12:  # a transfer to a colleague, who takes it
            colleague = rng.choice([o for o in operators if o.pk != agent.pk] or operators)
            t += dt.timedelta(seconds=self._seconds(60))
            services.transfer(
                conv.pk, actor, to_employee=colleague, comment="Can you take this one?", now=t
            )
            agent, actor = colleague, Actor.of(colleague)
            t += dt.timedelta(seconds=self._seconds(40))
            services.take(conv.pk, actor, now=t)

        exchanges = 1 + int(rng.expovariate(0.8))
        for i in range(exchanges):
            t += dt.timedelta(seconds=self._seconds(70, 1.1))
            services.reply(
                conv.pk,
                actor,
                rng.choice(AGENT_LINES[lang][:-1] if i == 0 else AGENT_LINES[lang]),
                now=t,
            )
            if i < exchanges - 1 or target == Status.CLIENT_WROTE_AFTER_AGENT:
                t += dt.timedelta(seconds=self._seconds(90))
                services.receive_client_message(
                    connection,
                    client_external_id=client["ext"],
                    text=rng.choice(CLIENT_LINES[lang][-4:]),
                    now=t,
                )
        if target == Status.CLIENT_WROTE_AFTER_AGENT or target == Status.AGENT_REPLIED:
            return conv
        if target == Status.SPAM:
            t += dt.timedelta(seconds=self._seconds(60))
            services.mark_spam(conv.pk, actor, now=t)
            return conv
        if rng.random() < 0.06:
            services.pin(conv.pk, actor, True, now=t)
        if target == Status.AUTO_CLOSED:
            conv.refresh_from_db()
            due = conv.auto_close_at
            services.fire_due(conv.pk, now=due)
            conv.refresh_from_db()
            if conv.status == Status.CLOSING:
                if rng.random() < 0.5:
                    services.client_rate(
                        conv.pk, rng.random() < 0.8, now=due + dt.timedelta(minutes=2)
                    )
                else:
                    services.fire_due(conv.pk, now=conv.full_close_at)
        else:
            t += dt.timedelta(seconds=self._seconds(120))
            services.close(conv.pk, actor, now=t)
            conv.refresh_from_db()
            if conv.status == Status.CLOSING and target != Status.CLOSING:
                services.client_rate(conv.pk, rng.random() < 0.8, now=t + dt.timedelta(minutes=1))
            if target == Status.CLOSING:
                return conv
        conv.refresh_from_db()
        if conv.client_rating is None and rng.random() < 0.35:
            services.client_rate(
                conv.pk, rng.random() < 0.78, now=(conv.closed_at or t) + dt.timedelta(minutes=1)
            )
        if rng.random() < 0.08:
            services.supervisor_rate(
                conv.pk,
                Actor.of(_admin()),
                rng.choice([3, 4, 4, 5, 5, 2]),
                rng.choice(["Good tone", "Could be faster", "Excellent", ""]),
                now=t + dt.timedelta(hours=1),
            )
        return conv


_ADMIN = {}


def _admin() -> User:
    if "u" not in _ADMIN or not User.objects.filter(pk=_ADMIN["u"].pk).exists():
        _ADMIN["u"] = User.objects.get(username="admin")
    return _ADMIN["u"]


CLOSED_MIX = [
    (Status.AUTO_CLOSED, 0.55),
    (Status.CLOSED, 0.35),
    (Status.SPAM, 0.05),
    (Status.DUPLICATE, 0.05),
]
OPEN_MIX = [
    Status.NEW,
    Status.SKIPPED,
    Status.TAKEN,
    Status.CLIENT_WROTE,
    Status.CLIENT_WROTE_AFTER_AGENT,
    Status.AGENT_REPLIED,
    Status.CLOSING,
]


def load_organisation(seed: int = 7) -> DemoOrg:
    """The departments, employees, roles, open channels and CRM contacts (a few seconds)."""
    rng = random.Random(seed)
    _ADMIN.clear()
    with hooks.publishing_suspended(), transaction.atomic():
        org = build_organisation()
        crm_demo.seed(
            rng, [], lines=[org.lines[2], org.lines[4]]
        )  # Sales binds open deals; Partners makes contacts
    return org


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


def simulate(
    org: DemoOrg,
    conversations: int = 2100,
    days: int = 60,
    seed: int = 7,
    now: dt.datetime | None = None,
    progress=None,
    chunk: int = 25,
    pause: float = 0.0,
) -> None:
    """Simulate `conversations` over the last `days` days, oldest first, a few conversations per
    transaction: each conversation's whole story commits at once, so the server and its timers
    can run meanwhile and never see half of one. `pause` (seconds) between transactions lets
    other writers in when the server runs alongside."""
    rng = random.Random(seed + 1)
    now = now or timezone.now()
    _ADMIN.clear()
    sim = Simulation(org, rng, now)
    history_end = now - dt.timedelta(hours=6)
    history_start = now - dt.timedelta(days=days)
    recent = 70
    older = conversations - recent
    starts = sorted(
        history_start
        + dt.timedelta(seconds=rng.random() * (history_end - history_start).total_seconds())
        for _ in range(older)
    )
    weights = [w for _, w in CLOSED_MIX]
    plan = [
        (start, rng.choices([s for s, _ in CLOSED_MIX], weights)[0], rng.random() < 0.05)
        for start in starts
    ]
    # The last hours: conversations still in every open status (closing mode: see below).
    for i in range(recent):
        target = OPEN_MIX[i % len(OPEN_MIX)]
        plan.append(
            (
                now - dt.timedelta(minutes=170 - i * 2.4),
                Status.CLOSED if target == Status.CLOSING else target,
                i % 23 == 0,
            )
        )
    with hooks.publishing_suspended():
        for first in range(0, len(plan), chunk):
            with transaction.atomic():
                for start, target, outgoing in plan[first : first + chunk]:
                    sim.run_one(start, target, outgoing=outgoing)
            if progress:
                progress(min(first + chunk, len(plan)), conversations)
            if pause:
                # SQLite has one writer and its waiting is not first come, first served: leave a
                # gap longer than its longest retry sleep (100 ms) so the server and worker get in.
                time.sleep(pause)
        with transaction.atomic():
            _closing_examples(sim, now)
            # The simulated history was delivered at the time; nothing is waiting to go out.
            Message.objects.filter(author_kind__in=["employee", "bot"]).exclude(
                conversation__channel="livechat"
            ).update(delivery_state=Message.Delivery.SENT)


def load(
    conversations: int = 2100,
    days: int = 60,
    seed: int = 7,
    now: dt.datetime | None = None,
    progress=None,
) -> DemoOrg:
    """Build the organisation and simulate `conversations` over the last `days` days."""
    org = load_organisation(seed)
    simulate(org, conversations=conversations, days=days, seed=seed, now=now, progress=progress)
    return org


def _closing_examples(sim: Simulation, now: dt.datetime) -> None:
    """A few conversations in closing mode on the Billing line (it sends a closing text)."""
    billing = next(line for line in sim.org.lines if line.name == "Billing")
    connection = billing.connections.first()
    agent = sim.org.operators_by_line[billing.pk][0]
    for i in range(4):
        t = now - dt.timedelta(minutes=30 - i * 5)
        ext = f"closing-demo-{i}"
        received = services.receive_client_message(
            connection,
            client_external_id=ext,
            client_name=f"{FIRST[i]} {LAST[i]}",
            text="Where is my invoice?",
            now=t,
            email=f"{ext}@example.net",
        )
        conv = received.conversation
        conv.refresh_from_db()
        actor = Actor.of(User.objects.get(pk=conv.responsible_id) if conv.responsible_id else agent)
        services.take(conv.pk, actor, now=t + dt.timedelta(seconds=40))
        services.reply(
            conv.pk,
            actor,
            "I've just sent it again to your e-mail.",
            now=t + dt.timedelta(seconds=95),
        )
        services.close(conv.pk, actor, now=t + dt.timedelta(seconds=150))
