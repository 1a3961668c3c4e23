"""What demo clients and employees say, as whole exchanges that read in order.

A conversation is one topic: the client greets and asks, the employee greets and (sometimes) asks
for a detail, the client gives it, the employee answers, the client thanks, the employee says
goodbye. Both the bulk history (demo_history) and the conversations made through the services
(demo.Simulation) take their lines from `Script`, so every transcript has that shape.
No tabs, newlines or backslashes: the bulk path writes these through PostgreSQL's COPY text format.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# (question, employee asks for a detail, client's detail, employee's answer)
TOPICS = {
    "en": [
        (
            "I ordered last week and the parcel hasn't arrived yet.",
            "Could you give me the order number?",
            "It's order 4821.",
            "Thanks for waiting. Order 4821 left our warehouse yesterday; it should arrive tomorrow.",
        ),
        (
            "Can I change the delivery address of my order?",
            "Sure, which order is it, and what is the new address?",
            "Order 5310, to Calle Mayor 12, Madrid.",
            "Done: order 5310 now goes to Calle Mayor 12, Madrid. You'll get a confirmation e-mail.",
        ),
        (
            "Your app keeps logging me out, any idea why?",
            "Which phone and app version do you use?",
            "An Android phone, version 3.2.",
            "Version 3.2 had that bug. Please update to 3.3 from the store and it will stop.",
        ),
        (
            "I was charged twice for the same subscription.",
            "I'm sorry about that. On which date were you charged?",
            "On the 3rd, both charges the same day.",
            "I've refunded the duplicate charge; it takes 3 to 5 working days to show.",
        ),
        (
            "Do you ship to Portugal?",
            "Yes! Is it for a home address or a business?",
            "A home address in Porto.",
            "We ship to Porto in 2 to 4 days, and delivery is free above 50 euros.",
        ),
        (
            "How do I reset my password?",
            "Which e-mail address is your account under?",
            "The one I'm writing from.",
            "I've sent a reset link to that address; it is valid for one hour.",
        ),
        (
            "Is the premium plan billed monthly or yearly?",
            "Are you on the free plan today?",
            "Yes, the free one.",
            "You can choose: 9 euros a month, or 90 a year (two months free).",
        ),
        (
            "The invoice has the wrong company name on it.",
            "What should the company name be?",
            "Blue Harbour Ltd, not Blue Harbor.",
            "I've issued a corrected invoice to Blue Harbour Ltd; it is in your account now.",
        ),
        (
            "I'd like to return a pair of shoes, they're too small.",
            "No problem. Do you want a refund or a bigger size?",
            "A size bigger, please.",
            "I've booked the exchange: a courier collects the pair tomorrow and brings the new size.",
        ),
        (
            "Can I pay by bank transfer?",
            "Is it for an order you are placing now?",
            "Yes, for the order in my basket.",
            "Yes: choose 'Bank transfer' at checkout; the order ships once the payment arrives.",
        ),
    ],
    "es": [
        (
            "Hice un pedido la semana pasada y todavía no ha llegado.",
            "¿Me dices el número de pedido?",
            "Es el pedido 4821.",
            "Gracias por esperar. El pedido 4821 salió ayer del almacén; llegará mañana.",
        ),
        (
            "¿Puedo cambiar la dirección de entrega de mi pedido?",
            "Claro, ¿qué pedido es y cuál es la nueva dirección?",
            "El 5310, a la calle Mayor 12, Madrid.",
            "Hecho: el pedido 5310 irá a la calle Mayor 12, Madrid. Recibirás un correo de confirmación.",
        ),
        (
            "La aplicación me cierra la sesión todo el rato.",
            "¿Qué móvil y qué versión de la aplicación usas?",
            "Un Android, la versión 3.2.",
            "La 3.2 tenía ese fallo. Actualiza a la 3.3 desde la tienda y se soluciona.",
        ),
        (
            "Me han cobrado dos veces la misma suscripción.",
            "Lo siento. ¿Qué día se hizo el cobro?",
            "El día 3, los dos cargos el mismo día.",
            "He devuelto el cargo duplicado; tarda de 3 a 5 días hábiles en verse.",
        ),
        (
            "¿Hacéis envíos a Canarias?",
            "¡Sí! ¿Es para un domicilio o una empresa?",
            "Para mi casa en Las Palmas.",
            "Enviamos a Las Palmas en 3 a 5 días; el envío es gratis a partir de 50 euros.",
        ),
        (
            "¿Cómo restablezco mi contraseña?",
            "¿Con qué correo está registrada tu cuenta?",
            "Con el mismo desde el que escribo.",
            "Te he enviado un enlace para restablecerla; vale durante una hora.",
        ),
        (
            "La factura tiene mal el nombre de la empresa.",
            "¿Cuál debería ser el nombre?",
            "Café Montaña S.L., sin abreviar.",
            "He emitido una factura corregida a Café Montaña S.L.; ya la tienes en tu cuenta.",
        ),
        (
            "Quiero devolver unas zapatillas, me quedan pequeñas.",
            "Sin problema. ¿Prefieres el reembolso o una talla más?",
            "Una talla más, por favor.",
            "He programado el cambio: mañana un mensajero recoge las zapatillas y trae la nueva talla.",
        ),
        (
            "¿Puedo pagar por transferencia?",
            "¿Es para un pedido que vas a hacer ahora?",
            "Sí, para lo que tengo en la cesta.",
            "Sí: elige «Transferencia» al pagar; enviamos el pedido cuando llega el pago.",
        ),
    ],
}
HELLO = {
    "en": ["Hi!", "Hello!", "Good morning!", "Hi there."],
    "es": ["¡Hola!", "Buenas.", "Hola."],
}
# A second message the client sometimes sends before anyone answers.
MEANWHILE = {
    "en": ["Thanks in advance.", "It's a bit urgent.", "I'm on the website now."],
    "es": ["Gracias de antemano.", "Es algo urgente.", "Estoy ahora en la web."],
}
AGENT_HELLO = {
    "en": "Hello {client}, this is {agent}. Let me check that for you.",
    "es": "Hola, {client}, soy {agent}. Déjame comprobarlo.",
}
THANKS = {
    "en": ["Great, thank you very much!", "Thanks, that worked!", "Perfect, thanks for your help."],
    "es": ["¡Perfecto, muchas gracias!", "¡Gracias, ya funciona!", "Genial, gracias por la ayuda."],
}
GOODBYE = {
    "en": ["You're welcome! Have a nice day.", "Glad I could help. Have a good day!"],
    "es": ["¡De nada! Que tengas buen día.", "Me alegro de ayudarte. ¡Buen día!"],
}
ANYTHING_ELSE = {
    "en": "Is there anything else I can help you with?",
    "es": "¿Puedo ayudarte en algo más?",
}
SPAM = {
    "en": "WIN A FREE PHONE!!! Click shop-prizes.example to claim your reward now",
    "es": "¡¡GANA UN MÓVIL GRATIS!! Entra en premios.example y reclama tu regalo",
}
DUPLICATE = {
    "en": "Hello? I wrote a minute ago about the same thing.",
    "es": "¿Hola? Os escribí hace un minuto por lo mismo.",
}
OUTGOING = {
    "en": (
        "Hi {client}, {agent} here. Following up on your request from last time: is everything sorted?",
        "Yes, all sorted, thank you!",
        "Great to hear. Have a nice day!",
    ),
    "es": (
        "Hola, {client}, soy {agent}. Te escribo por tu última consulta: ¿quedó todo resuelto?",
        "Sí, todo resuelto, ¡gracias!",
        "Me alegro. ¡Que tengas buen día!",
    ),
}


def first_name(name: str) -> str:
    return (name or "").split(" ")[0]


@dataclass
class Script:
    """One conversation's lines, in the order they are said."""

    lang: str
    client: str
    agent: str
    topic: tuple[str, str, str, str]
    hello: str

    @classmethod
    def pick(cls, rng: random.Random, lang: str, client: str, agent: str) -> Script:
        return cls(lang, client, agent, rng.choice(TOPICS[lang]), rng.choice(HELLO[lang]))

    def question(self) -> str:
        return f"{self.hello} {self.topic[0]}"

    def meanwhile(self, rng: random.Random) -> str:
        return rng.choice(MEANWHILE[self.lang])

    def greeting(self) -> str:
        return AGENT_HELLO[self.lang].format(
            client=first_name(self.client), agent=first_name(self.agent)
        )

    def ask(self) -> str:
        return self.topic[1]

    def detail(self) -> str:
        return self.topic[2]

    def answer(self) -> str:
        return self.topic[3]

    def thanks(self, rng: random.Random) -> str:
        return rng.choice(THANKS[self.lang])

    def goodbye(self, rng: random.Random) -> str:
        return rng.choice(GOODBYE[self.lang])

    def anything_else(self) -> str:
        return ANYTHING_ELSE[self.lang]

    def spam(self) -> str:
        return SPAM[self.lang]

    def duplicate(self) -> str:
        return DUPLICATE[self.lang]

    def outgoing(self) -> tuple[str, str, str]:
        first, reply, bye = OUTGOING[self.lang]
        return (
            first.format(client=first_name(self.client), agent=first_name(self.agent)),
            reply,
            bye,
        )
