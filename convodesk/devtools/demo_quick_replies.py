"""The demo's quick replies: shared ones for every open channel, a few per channel, and some
employees' own, with `/shortcut`s and the `{client_name}` / `{employee_name}` placeholders.
Made through the quick replies' one writer (`workspace.quick_replies.create`), as settings does."""

from __future__ import annotations

from convodesk.accounts.models import User
from convodesk.workspace import quick_replies

# (shortcut, title, text); line: None for every open channel, else the open channel's name.
SHARED = [
    (
        None,
        "hello",
        "Greeting",
        "Hello {client_name}, this is {employee_name}. How can I help you?",
    ),
    (None, "wait", "One moment", "Thanks, {client_name}. Give me a moment while I check that."),
    (None, "else", "Anything else?", "Is there anything else I can help you with?"),
    (
        None,
        "bye",
        "Goodbye",
        "Thank you for writing to us, {client_name}. Have a nice day!",
    ),
    (
        "Support",
        "order",
        "Order number",
        "Could you give me your order number? It starts with a 4 or a 5.",
    ),
    (
        "Support",
        "tracking",
        "Tracking link",
        "You can follow your parcel at https://shop.example.com/track with your order number.",
    ),
    (
        "Soporte ES",
        "hola",
        "Saludo",
        "Hola, {client_name}, soy {employee_name}. ¿En qué puedo ayudarte?",
    ),
    (
        "Soporte ES",
        "adios",
        "Despedida",
        "Gracias por escribirnos, {client_name}. ¡Que tengas buen día!",
    ),
    (
        "Soporte ES",
        "pedido",
        "Número de pedido",
        "¿Me dices tu número de pedido? Empieza por 4 o por 5.",
    ),
    (
        "Billing",
        "refund",
        "Refund times",
        "I've issued the refund, {client_name}; it takes 3 to 5 working days to show on your card.",
    ),
    (
        "Billing",
        "invoice",
        "Invoice copy",
        "I've sent a copy of the invoice to the e-mail address on your account.",
    ),
    (
        "Sales",
        "plans",
        "Plans and prices",
        "Our plans: Basic 9 euros a month, Premium 19 euros a month; yearly billing saves two months.",
    ),
]
# (username, shortcut, title, text): an employee's own replies, offered only to them.
PERSONAL = [
    ("alex", "sig", "My signature", "Best regards,\nAlex, Customer Support"),
    (
        "alex",
        "later",
        "Call back later",
        "{client_name}, I'll look into it and write back within the hour.",
    ),
    ("lucia", "firma", "Mi firma", "Un saludo,\nLucía, Atención al cliente"),
    (
        "lucia",
        "luego",
        "Te escribo luego",
        "{client_name}, lo reviso y te escribo en menos de una hora.",
    ),
    ("maria", "escalate", "Escalated", "I've passed this to our specialists, {client_name}."),
]


def seed(org, rng=None) -> int:
    """Create the demo's quick replies; returns how many."""
    admin = User.objects.get(username="admin")
    lines = {line.name: line for line in org.lines}
    made = 0
    for line_name, shortcut, title, text in SHARED:
        quick_replies.create(
            admin,
            title=title,
            text=text,
            shortcut=shortcut,
            line=lines[line_name] if line_name else None,
        )
        made += 1
    users = {u.username: u for u in User.objects.filter(username__in={p[0] for p in PERSONAL})}
    for username, shortcut, title, text in PERSONAL:
        quick_replies.create(
            admin, title=title, text=text, shortcut=shortcut, owner=users[username]
        )
        made += 1
    return made
