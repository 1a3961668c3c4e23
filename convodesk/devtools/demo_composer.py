"""The demo's private notes and files (issue 19 item 4): a few of the recent conversations an
employee holds get a note for colleagues, some with a small file attached. Notes change no
transcript the client reads, so the demo's client-side stories keep their order."""

from __future__ import annotations

import datetime as dt

from convodesk.conversations import services, uploads
from convodesk.conversations.lifecycle import OPEN_BELOW, Status
from convodesk.conversations.models import Conversation
from convodesk.conversations.services import Actor

NOTES = [
    ("Returning customer: last order arrived damaged, be generous.", None),
    ("Checked the warehouse: two units left, reserved one for this client.", "stock.csv"),
    ("Asked finance about the refund; answer expected tomorrow.", None),
    ("Client's order confirmation, for whoever picks this up.", "order-confirmation.txt"),
]
FILES = {
    "stock.csv": b"sku,name,units\nCB-200,Cargo e-bike,2\nTR-28,Trekking 28,7\n",
    "order-confirmation.txt": b"Order 10452\nCargo e-bike CB-200\nPaid by card\n",
}


def add_notes_and_files(now: dt.datetime, count: int = 8) -> int:
    """Notes on up to `count` open conversations held by an employee; returns how many."""
    held = (
        Conversation.objects.filter(
            status__gte=Status.TAKEN, status__lt=OPEN_BELOW, responsible__isnull=False
        )
        .select_related("responsible")
        .order_by("-started_at")[:count]
    )
    written = 0
    for index, conv in enumerate(held):
        text, file_name = NOTES[index % len(NOTES)]
        at = min(now, (conv.last_message_at or conv.started_at) + dt.timedelta(seconds=20))
        files = [uploads.store_bytes(file_name, FILES[file_name])] if file_name else []
        services.add_private_note(
            conv.pk, Actor.of(conv.responsible), text, now=at, attachments=files
        )
        written += 1
    return written
