"""The only writer of conversation state (DESIGN rule 1), one module per concept.

- `core`: who acts, the row lock, the transition core and the batch one transaction writes;
- `start`: a new conversation (its first offer, CRM binding and greeting);
- `receive`: the client side (messages, ratings);
- `operator`: what employees do (take, skip, reply, transfer, close, …);
- `queue`: offers (whom `lines.distribution` chose);
- `timers`: queue time-outs, auto-close, full close;
- `labels`: tags and close reasons;
- `crm`: what `crm.binding` decided, re-binding, the CRM history event.

Views, the API, connectors, the CRM's actions and the timers loop call these; the helpers they
use (`lifecycle`, `visibility`, `lines.distribution`, `crm.binding`, `stats.rollups`, `hooks`)
decide or write rows for them and never import them.
"""

from ..lifecycle import IllegalTransition
from .core import (
    EXCERPT_LENGTH,
    SYSTEM,
    TIMER,
    Actor,
    LineInactive,
    NotAllowed,
    NotFound,
    send_automatic,
    unit,
)
from .crm import ensure_activity, record_crm_change, write_links
from .labels import change_close_reason, change_tags, choose_close_reason
from .operator import (
    add_private_note,
    add_system_note,
    close,
    join,
    mark_duplicate,
    mark_spam,
    pin,
    record_delivery_failure,
    reply,
    skip,
    start_outgoing,
    supervisor_rate,
    take,
    transfer,
    write_with_files,
)
from .queue import distribute, offer, offer_queued, offer_waiting
from .receive import Received, client_rate, keep_attachment_files, receive_client_message
from .timers import fire_due, run_due_timers

__all__ = [
    "EXCERPT_LENGTH",
    "SYSTEM",
    "TIMER",
    "Actor",
    "IllegalTransition",
    "LineInactive",
    "NotAllowed",
    "NotFound",
    "Received",
    "add_private_note",
    "add_system_note",
    "change_close_reason",
    "change_tags",
    "choose_close_reason",
    "client_rate",
    "close",
    "distribute",
    "ensure_activity",
    "fire_due",
    "join",
    "keep_attachment_files",
    "mark_duplicate",
    "mark_spam",
    "offer",
    "offer_queued",
    "offer_waiting",
    "pin",
    "receive_client_message",
    "record_crm_change",
    "record_delivery_failure",
    "reply",
    "run_due_timers",
    "send_automatic",
    "skip",
    "start_outgoing",
    "supervisor_rate",
    "take",
    "transfer",
    "unit",
    "write_links",
    "write_with_files",
]
