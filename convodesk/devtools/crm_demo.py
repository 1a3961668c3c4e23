"""Demo CRM data: contacts (some in companies, some with deals) that future demo clients match.

The demo conversations are bound by the real rules through the services' hook; this only
pre-creates the CRM side, so some clients land on existing contacts (and deals) and the rest
become leads or new contacts by their line's setting.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from decimal import Decimal

from convodesk.crm.models import Company, Contact, Deal

COMPANIES = [
    "Acme Logistics",
    "Iberia Foods",
    "Nordwind GmbH",
    "Solaris Energía",
    "Blue Harbour Ltd",
    "Café Montaña",
    "Pixel & Co",
    "Atlas Seguros",
]
DEAL_TITLES = [
    "Annual subscription",
    "Bulk order",
    "Premium plan upgrade",
    "Spare parts",
    "Pilot project",
    "Renewal",
    "Team licences",
    "Custom integration",
]


def seed(
    rng: random.Random,
    people: Iterable[tuple[str, str, str]],
    responsible: Sequence = (),
    lines: Sequence = (),
) -> dict[str, int]:
    """Create a contact for each (name, phone, e-mail); about a third work for a company and about
    half have a deal (most of them open). Give `lines` to vary the lines' CRM rules: the first
    line binds to a contact's open deal, the second creates contacts instead of leads.
    Can be called once with every person, or once per demo client before their first message.
    Returns how many of each record were made."""
    # Companies are made once, so this can also be called once per demo client.
    companies = [
        Company.objects.get_or_create(
            title=title,
            defaults={"responsible": rng.choice(responsible) if responsible else None},
        )[0]
        for title in COMPANIES
    ]
    counts = {"companies": len(companies), "contacts": 0, "deals": 0}
    country = lines[0].default_country if lines else "ES"
    for name, phone, email in people:
        contact = Contact.objects.create(
            name=name,
            responsible=rng.choice(responsible) if responsible else None,
            company=rng.choice(companies) if rng.random() < 0.35 else None,
        )
        # Half the contacts were typed in by hand in another format: matching still finds them.
        if phone:
            contact.add_phone(_retype(phone) if rng.random() < 0.5 else phone, country)
        if email and rng.random() < 0.8:
            contact.add_email(email.upper() if rng.random() < 0.2 else email)
        counts["contacts"] += 1
        if rng.random() < 0.5:
            Deal.objects.create(
                title=rng.choice(DEAL_TITLES),
                contact=contact,
                company=contact.company,
                stage=rng.choices(
                    ["new", "preparation", "negotiation", "won", "lost"], [3, 2, 2, 2, 1]
                )[0],
                amount=Decimal(rng.randrange(50, 20000)),
                responsible=contact.responsible,
            )
            counts["deals"] += 1
    if len(lines) >= 1:
        lines[0].crm_bind_open_deal = True
        lines[0].save(update_fields=["crm_bind_open_deal"])
    if len(lines) >= 2:
        lines[1].crm_binding = "contact"
        lines[1].save(update_fields=["crm_binding"])
    return counts


def _retype(phone: str) -> str:
    """+34 612 345 678 -> 0034612345678 (the same number as someone would type it)."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return "00" + digits if phone.strip().startswith("+") else phone
