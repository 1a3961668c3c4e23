"""The conversation state machine: pure, no database.

`apply(state, event, rules)` returns the next state and what happened (a reply period
that ended, a first take), or raises `IllegalTransition` and changes nothing. The
services turn that into rows; the stored metrics are `metrics(state)`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass, replace
from enum import IntEnum

from django.utils.translation import gettext_lazy as _

from convodesk.lines.calendar import ALWAYS, Calendar, business_seconds

PINNED_AUTO_CLOSE = dt.timedelta(days=7)


class Status(IntEnum):
    NEW = 0
    SKIPPED = 5
    TAKEN = 10
    CLIENT_WROTE = 20
    CLIENT_WROTE_AFTER_AGENT = 25
    AGENT_REPLIED = 40
    CLOSING = 50
    CLOSED = 60
    SPAM = 65
    DUPLICATE = 69
    AUTO_CLOSED = 75


STATUS_KEYS = {
    Status.NEW: "new",
    Status.SKIPPED: "skipped",
    Status.TAKEN: "taken",
    Status.CLIENT_WROTE: "client_wrote",
    Status.CLIENT_WROTE_AFTER_AGENT: "client_wrote_after_agent",
    Status.AGENT_REPLIED: "agent_replied",
    Status.CLOSING: "closing",
    Status.CLOSED: "closed",
    Status.SPAM: "spam",
    Status.DUPLICATE: "duplicate",
    Status.AUTO_CLOSED: "auto_closed",
}
STATUS_BY_KEY = {v: k for k, v in STATUS_KEYS.items()}
STATUS_LABELS = {
    Status.NEW: _("New"),
    Status.SKIPPED: _("Skipped"),
    Status.TAKEN: _("Taken"),
    Status.CLIENT_WROTE: _("Client wrote"),
    Status.CLIENT_WROTE_AFTER_AGENT: _("Client wrote after agent"),
    Status.AGENT_REPLIED: _("Agent replied"),
    Status.CLOSING: _("Closing"),
    Status.CLOSED: _("Closed"),
    Status.SPAM: _("Spam"),
    Status.DUPLICATE: _("Duplicate"),
    Status.AUTO_CLOSED: _("Closed automatically"),
}

SIMPLE_WAITING, SIMPLE_ANSWERED, SIMPLE_CLOSED = "waiting", "answered", "closed"
SIMPLE_LABELS = {
    SIMPLE_WAITING: _("The client is waiting for the agent's answer"),
    SIMPLE_ANSWERED: _("The agent responded"),
    SIMPLE_CLOSED: _("Conversation closed"),
}
SIMPLE_RANGES = {SIMPLE_WAITING: (0, 39), SIMPLE_ANSWERED: (40, 59), SIMPLE_CLOSED: (60, 99)}
OPEN_BELOW = Status.CLOSED  # codes below 60 are open; the partial unique index uses it


def simple_status(code: int) -> str:
    if code < Status.AGENT_REPLIED:
        return SIMPLE_WAITING
    if code < Status.CLOSED:
        return SIMPLE_ANSWERED
    return SIMPLE_CLOSED


INCOMING, OUTGOING = "incoming", "outgoing"
CLOSED_BY_EMPLOYEE, CLOSED_BY_AUTOMATIC, CLOSED_BY_SYSTEM = "employee", "automatic", "system"
DISTRIBUTION_ALL = "all_at_once"


class IllegalTransition(Exception):
    """A domain error: the action does not apply to the conversation as it is now."""

    def __init__(self, code: str, message):
        super().__init__(str(message))
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Rules:
    """The open channel's settings that the state machine needs."""

    distribution: str = DISTRIBUTION_ALL
    queue_timeout: dt.timedelta = dt.timedelta(seconds=60)
    auto_close: dt.timedelta = dt.timedelta(hours=4)
    closing_mode: bool = False
    full_close: dt.timedelta = dt.timedelta(minutes=10)
    # The business calendar, and the reply-time targets (seconds; None = no target), each
    # counted in business hours (`*_business`) or calendar time.
    calendar: Calendar = ALWAYS
    first_target: int | None = None
    first_target_business: bool = False
    next_target: int | None = None
    next_target_business: bool = False

    @classmethod
    def for_line(cls, line) -> Rules:
        return cls(
            distribution=line.distribution,
            queue_timeout=dt.timedelta(seconds=line.queue_timeout_seconds),
            auto_close=dt.timedelta(minutes=line.auto_close_minutes),
            closing_mode=line.closing_mode,
            full_close=dt.timedelta(minutes=line.full_close_minutes),
            calendar=Calendar.of_line(line),
            first_target=getattr(line, "sla_first_seconds", None) or None,
            first_target_business=bool(getattr(line, "sla_first_business", False)),
            next_target=getattr(line, "sla_next_seconds", None) or None,
            next_target_business=bool(getattr(line, "sla_next_business", False)),
        )


@dataclass(frozen=True)
class State:
    type: str = INCOMING
    status: int = Status.NEW
    responsible: int | None = None
    started_at: dt.datetime | None = None
    assigned_at: dt.datetime | None = None
    taken_at: dt.datetime | None = None
    first_reply_at: dt.datetime | None = None
    last_message_at: dt.datetime | None = None
    agent_closed_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    closed_by: str = ""
    pending_closed_by: str = ""
    waiting_since: dt.datetime | None = None
    message_count: int = 0
    transfer_count: int = 0
    pinned: bool = False
    spam: bool = False
    client_rating: int | None = None
    supervisor_rating: int | None = None
    supervisor_comment: str = ""
    reply_count: int = 0
    reply_time_first: int | None = None
    reply_time_total: int | None = None
    reply_time_max: int | None = None
    auto_close_at: dt.datetime | None = None
    full_close_at: dt.datetime | None = None
    offer_expires_at: dt.datetime | None = None
    # Business-hours metrics: each computed when its end instant is recorded, with the calendar
    # in force then (a calendar change applies from then on; see README).
    agent_response_time_bh: int | None = None
    first_answer_wait_bh: int | None = None
    duration_bh: int | None = None
    time_to_agent_close_bh: int | None = None
    reply_time_first_bh: int | None = None
    reply_time_total_bh: int | None = None
    reply_time_max_bh: int | None = None
    # Reply-time target (SLA) of the client's current wait, whether it was missed (the breach
    # is recorded once), and the ended waits that met or missed their target.
    due_at: dt.datetime | None = None
    overdue: bool = False
    sla_met: int = 0
    sla_breaches: int = 0

    @property
    def is_open(self) -> bool:
        return self.status < Status.CLOSED


STATE_FIELDS = tuple(f.name for f in dataclasses.fields(State))


# Events -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    at: dt.datetime


@dataclass(frozen=True)
class StartIncoming(Event):
    pass


@dataclass(frozen=True)
class StartOutgoing(Event):
    employee: int


@dataclass(frozen=True)
class ClientMessage(Event):
    pass


@dataclass(frozen=True)
class Offer(Event):
    employee: int | None = None
    assign: bool = False


@dataclass(frozen=True)
class Take(Event):
    employee: int


@dataclass(frozen=True)
class Skip(Event):
    employee: int


@dataclass(frozen=True)
class QueueTimeout(Event):
    pass


@dataclass(frozen=True)
class EmployeeMessage(Event):
    employee: int


@dataclass(frozen=True)
class Transfer(Event):
    employee: int | None = None


@dataclass(frozen=True)
class Pin(Event):
    pinned: bool = True


@dataclass(frozen=True)
class Close(Event):
    by: str = CLOSED_BY_EMPLOYEE  # "employee" or "system" (an integration's token, the system)
    employee: int | None = None


@dataclass(frozen=True)
class FullClose(Event):
    pass


@dataclass(frozen=True)
class AutoClose(Event):
    pass


@dataclass(frozen=True)
class MarkSpam(Event):
    employee: int


@dataclass(frozen=True)
class MarkDuplicate(Event):
    pass


@dataclass(frozen=True)
class Reopen(Event):
    pass


@dataclass(frozen=True)
class ClientRate(Event):
    rating: int  # 1 like, -1 dislike


@dataclass(frozen=True)
class Breach(Event):
    """The timers noticed that the client's wait passed its due instant."""


@dataclass(frozen=True)
class SupervisorRate(Event):
    rating: int | None
    comment: str = ""


@dataclass(frozen=True)
class Outcome:
    """What a transition did besides changing fields, for the services to record."""

    reply_period: tuple[dt.datetime, dt.datetime, int, int] | None = (
        None  # start, end, seconds, employee
    )
    first_take: bool = False
    took: int | None = None
    breached: bool = False  # the reply-time target was missed, recorded now (once per wait)
    business_seconds: int | None = None  # of the reply period that ended


# Metrics ------------------------------------------------------------------------------


def seconds_between(start: dt.datetime | None, end: dt.datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, math.floor((end - start).total_seconds()))


def metrics(state: State) -> dict[str, int | None]:
    """The stored metric columns, all derived from the state's timestamps and counters."""
    incoming = state.type == INCOMING
    return {
        "agent_response_time": seconds_between(state.started_at, state.taken_at)
        if incoming
        else None,
        "first_answer_wait": seconds_between(state.started_at, state.first_reply_at)
        if incoming
        else None,
        "duration": seconds_between(state.started_at, state.last_message_at),
        "time_to_agent_close": seconds_between(state.started_at, state.agent_closed_at),
        "reply_time_avg": (
            state.reply_time_total // state.reply_count if state.reply_count else None
        ),
        **{name: getattr(state, name) for name in BUSINESS_METRIC_KEYS},
        "reply_time_avg_bh": (
            state.reply_time_total_bh // state.reply_count
            if state.reply_count and state.reply_time_total_bh is not None
            else None
        ),
    }


BUSINESS_METRIC_KEYS = (
    "agent_response_time_bh",
    "first_answer_wait_bh",
    "duration_bh",
    "time_to_agent_close_bh",
)
# Each business metric: the state's start and end fields, and whether only incoming have it.
_BUSINESS_SPANS = {
    "agent_response_time_bh": ("started_at", "taken_at", True),
    "first_answer_wait_bh": ("started_at", "first_reply_at", True),
    "duration_bh": ("started_at", "last_message_at", False),
    "time_to_agent_close_bh": ("started_at", "agent_closed_at", False),
}


def _business_metrics(before: State, after: State, rules: Rules) -> dict:
    """Each business metric whose span changed, measured with the calendar in force now."""
    changes = {}
    for name, (start, end, incoming_only) in _BUSINESS_SPANS.items():
        a, b = getattr(after, start), getattr(after, end)
        if incoming_only and after.type != INCOMING:
            value = None
        elif a is None or b is None:
            value = None
        elif (a, b) == (getattr(before, start), getattr(before, end)) and (
            getattr(before, name) is not None
        ):
            continue
        else:
            value = business_seconds(a, b, rules.calendar)
        if value != getattr(after, name):
            changes[name] = value
    return changes


def due_instant(start: dt.datetime, seconds: int, business: bool, calendar: Calendar):
    """When a wait that began at `start` passes a target of `seconds`."""
    if business:
        return calendar.add_business_seconds(start, seconds)
    return start + dt.timedelta(seconds=seconds)


def _due(before: State, after: State, rules: Rules) -> dict:
    """The due instant of the client's current wait: the first-answer target until the first
    employee message, the next-reply target after it. Set when the wait begins, with the
    calendar and targets in force then, and kept until the wait ends."""
    waiting = after.is_open and after.status != Status.CLOSING and after.waiting_since
    if not waiting:
        return {"due_at": None, "overdue": False} if after.due_at or after.overdue else {}
    first = after.first_reply_at is None
    same_wait = before.waiting_since == after.waiting_since and (
        (before.first_reply_at is None) == first
    )
    if same_wait and before.is_open and before.status != Status.CLOSING:
        return {}
    target, business = (
        (rules.first_target, rules.first_target_business)
        if first
        else (rules.next_target, rules.next_target_business)
    )
    due = due_instant(after.waiting_since, target, business, rules.calendar) if target else None
    return {"due_at": due, "overdue": False}


# Transitions --------------------------------------------------------------------------


def _refuse_closed(state: State, closing_too: bool = True) -> None:
    if state.status >= Status.CLOSED:
        raise IllegalTransition("closed", _("The conversation is already closed."))
    if closing_too and state.status == Status.CLOSING:
        raise IllegalTransition("closing", _("The conversation is already closing."))


def _auto_close_at(state: State, rules: Rules, last: dt.datetime) -> dt.datetime:
    return last + (PINNED_AUTO_CLOSE if state.pinned else rules.auto_close)


def _end_reply_period(state: State, employee: int, at: dt.datetime, rules: Rules = Rules()):
    if state.waiting_since is None:
        return {}, None
    seconds = seconds_between(state.waiting_since, at)
    business = business_seconds(state.waiting_since, at, rules.calendar)
    changes = {
        "reply_time_total_bh": (state.reply_time_total_bh or 0) + business,
        "reply_time_max_bh": max(state.reply_time_max_bh or 0, business),
        "reply_time_first_bh": state.reply_time_first_bh
        if state.reply_time_first_bh is not None
        else business,
        "waiting_since": None,
        "reply_count": state.reply_count + 1,
        "reply_time_total": (state.reply_time_total or 0) + seconds,
        "reply_time_max": max(state.reply_time_max or 0, seconds),
        "reply_time_first": state.reply_time_first
        if state.reply_time_first is not None
        else seconds,
    }
    return changes, (state.waiting_since, at, seconds, employee)


_CLOSE_CLEARS = {"waiting_since": None, "auto_close_at": None, "offer_expires_at": None}


def apply(state: State, event: Event, rules: Rules = Rules()) -> tuple[State, Outcome]:
    handler = _HANDLERS.get(type(event))
    if handler is None:
        raise TypeError(f"unknown event {type(event).__name__}")
    changes, outcome = handler(state, event, rules)
    outcome = outcome or Outcome()
    after = replace(state, **changes)
    if outcome.reply_period is not None and state.due_at is not None:
        # The wait ended with a reply: in time, or late (a breach the timers had not noticed
        # yet is recorded now, so every missed target counts once).
        if state.overdue:
            pass
        elif state.due_at >= event.at:
            after = replace(after, sla_met=after.sla_met + 1)
        else:
            after = replace(after, sla_breaches=after.sla_breaches + 1)
            outcome = replace(outcome, breached=True)
    after = replace(after, **_due(state, after, rules))
    after = replace(after, **_business_metrics(state, after, rules))
    return after, outcome


def _start_incoming(state, ev: StartIncoming, rules):
    return {
        "type": INCOMING,
        "status": Status.NEW,
        "started_at": ev.at,
        "last_message_at": ev.at,
        "waiting_since": ev.at,
        "message_count": 1,
    }, None


def _start_outgoing(state, ev: StartOutgoing, rules):
    changes = {
        "type": OUTGOING,
        "status": Status.AGENT_REPLIED,
        "responsible": ev.employee,
        "started_at": ev.at,
        "taken_at": ev.at,
        "first_reply_at": ev.at,
        "last_message_at": ev.at,
        "message_count": 1,
    }
    changes["auto_close_at"] = ev.at + rules.auto_close
    return changes, Outcome(took=ev.employee, first_take=True)


def _client_message(state, ev: ClientMessage, rules):
    _refuse_closed(state, closing_too=False)
    if state.status in (Status.NEW, Status.SKIPPED):
        status = state.status
    elif state.status in (Status.TAKEN, Status.CLIENT_WROTE):
        status = Status.CLIENT_WROTE
    else:
        status = Status.CLIENT_WROTE_AFTER_AGENT
    changes = {
        "status": status,
        "last_message_at": ev.at,
        "message_count": state.message_count + 1,
        "waiting_since": state.waiting_since or ev.at,
        "auto_close_at": None,
    }
    if state.status == Status.CLOSING:
        # The client answered the closing text: the close is cancelled, and with it the
        # employee's closing instant.
        changes.update(full_close_at=None, pending_closed_by="", agent_closed_at=None)
    return changes, None


def _offer(state, ev: Offer, rules):
    # Queued, or reopened after a close while nobody held it: both wait for an offer.
    reopened_unheld = state.status < Status.AGENT_REPLIED and state.responsible is None
    if state.status not in (Status.NEW, Status.SKIPPED) and not reopened_unheld:
        raise IllegalTransition("not_in_queue", _("The conversation is not waiting in the queue."))
    changes = {
        "assigned_at": state.assigned_at or ev.at,
        "offer_expires_at": ev.at + rules.queue_timeout,
    }
    if ev.assign:
        changes["responsible"] = ev.employee
    return changes, None


def _take(state, ev: Take, rules):
    _refuse_closed(state)
    # "Taken" means someone took it: a conversation reopened after a take-and-end or a system
    # close of a queued one is at 25 but was never taken, and stays takeable.
    if (
        state.status >= Status.TAKEN
        and state.taken_at is not None
        and state.responsible is not None
    ):
        if state.responsible == ev.employee:
            return {}, None
        raise IllegalTransition(
            "already_taken", _("Another employee has already taken this conversation.")
        )
    first = state.taken_at is None
    return {
        "status": max(state.status, Status.TAKEN),
        "responsible": ev.employee,
        "taken_at": state.taken_at or ev.at,
        "offer_expires_at": None,
    }, Outcome(first_take=first, took=ev.employee)


def _requeue(state, rules):
    if rules.distribution == DISTRIBUTION_ALL:
        return {}
    return {"status": Status.SKIPPED, "responsible": None, "offer_expires_at": None}


def _skip(state, ev: Skip, rules):
    if state.status not in (Status.NEW, Status.SKIPPED):
        raise IllegalTransition(
            "not_in_queue", _("Only a conversation waiting in the queue can be skipped.")
        )
    return _requeue(state, rules), None


def _queue_timeout(state, ev: QueueTimeout, rules):
    if state.status not in (Status.NEW, Status.SKIPPED):
        raise IllegalTransition("not_in_queue", _("The conversation is not waiting in the queue."))
    if state.offer_expires_at is None or state.offer_expires_at > ev.at:
        raise IllegalTransition("not_due", _("The queue time-out is not due yet."))
    changes = _requeue(state, rules)
    if rules.distribution == DISTRIBUTION_ALL:
        changes["offer_expires_at"] = ev.at + rules.queue_timeout
    return changes, None


def _employee_message(state, ev: EmployeeMessage, rules):
    _refuse_closed(state, closing_too=False)
    changes, period = _end_reply_period(state, ev.employee, ev.at, rules)
    outcome = Outcome(
        business_seconds=changes.get("reply_time_total_bh", 0) - (state.reply_time_total_bh or 0)
        if period
        else None
    )
    if state.status in (Status.NEW, Status.SKIPPED) or state.taken_at is None:
        changes.update(responsible=ev.employee, taken_at=state.taken_at or ev.at)
        outcome = replace(outcome, first_take=state.taken_at is None, took=ev.employee)
    changes.update(
        status=Status.AGENT_REPLIED,
        first_reply_at=state.first_reply_at or ev.at,
        last_message_at=ev.at,
        message_count=state.message_count + 1,
        full_close_at=None,
        pending_closed_by="",
        offer_expires_at=None,
    )
    if state.status == Status.CLOSING:
        changes["agent_closed_at"] = None
    changes["auto_close_at"] = _auto_close_at(state, rules, ev.at)
    return changes, replace(outcome, reply_period=period)


def _transfer(state, ev: Transfer, rules):
    _refuse_closed(state)
    return {
        "status": Status.SKIPPED,
        "responsible": ev.employee,
        "transfer_count": state.transfer_count + 1,
        "auto_close_at": None,
        "offer_expires_at": ev.at + rules.queue_timeout if ev.employee else None,
    }, None


def _pin(state, ev: Pin, rules):
    _refuse_closed(state, closing_too=False)
    changes = {"pinned": ev.pinned}
    if state.status == Status.AGENT_REPLIED and state.last_message_at:
        changes["auto_close_at"] = _auto_close_at(
            replace(state, pinned=ev.pinned), rules, state.last_message_at
        )
    return changes, None


def _closing_or_closed(state, at, rules, closed_by, final_status):
    if rules.closing_mode:
        return {
            **_CLOSE_CLEARS,
            "status": Status.CLOSING,
            "pending_closed_by": closed_by,
            "full_close_at": at + rules.full_close,
        }
    return {
        **_CLOSE_CLEARS,
        "status": final_status,
        "closed_at": at,
        "closed_by": closed_by,
        "full_close_at": None,
        "pending_closed_by": "",
    }


def _close(state, ev: Close, rules):
    _refuse_closed(state)
    if ev.by == CLOSED_BY_EMPLOYEE:
        changes = _closing_or_closed(state, ev.at, rules, CLOSED_BY_EMPLOYEE, Status.CLOSED)
        changes["agent_closed_at"] = ev.at
        if state.responsible is None and ev.employee is not None:
            changes["responsible"] = ev.employee
        return changes, None
    return _closing_or_closed(state, ev.at, rules, CLOSED_BY_SYSTEM, Status.AUTO_CLOSED), None


def _final_close(state, at):
    status = Status.CLOSED if state.pending_closed_by == CLOSED_BY_EMPLOYEE else Status.AUTO_CLOSED
    return {
        "status": status,
        "closed_at": at,
        "closed_by": state.pending_closed_by or CLOSED_BY_SYSTEM,
        "pending_closed_by": "",
        "full_close_at": None,
    }


def _full_close(state, ev: FullClose, rules):
    if state.status != Status.CLOSING:
        raise IllegalTransition("not_closing", _("The conversation is not in closing mode."))
    if state.full_close_at is None or state.full_close_at > ev.at:
        raise IllegalTransition("not_due", _("The full close is not due yet."))
    return _final_close(state, ev.at), None


def _auto_close(state, ev: AutoClose, rules):
    if state.status != Status.AGENT_REPLIED:
        raise IllegalTransition(
            "not_answered", _("Only an answered conversation closes automatically.")
        )
    if state.auto_close_at is None or state.auto_close_at > ev.at:
        raise IllegalTransition("not_due", _("The auto-close is not due yet."))
    return _closing_or_closed(state, ev.at, rules, CLOSED_BY_AUTOMATIC, Status.AUTO_CLOSED), None


def _spam(state, ev: MarkSpam, rules):
    _refuse_closed(state)
    return {
        **_CLOSE_CLEARS,
        "status": Status.SPAM,
        "spam": True,
        "closed_at": ev.at,
        "closed_by": CLOSED_BY_EMPLOYEE,
        "agent_closed_at": ev.at,
        "responsible": state.responsible if state.responsible is not None else ev.employee,
        "full_close_at": None,
        "pending_closed_by": "",
    }, None


def _duplicate(state, ev: MarkDuplicate, rules):
    if state.status in (Status.SPAM, Status.DUPLICATE):
        raise IllegalTransition("closed", _("The conversation is already closed."))
    return {
        **_CLOSE_CLEARS,
        "status": Status.DUPLICATE,
        "closed_at": state.closed_at or ev.at,
        "closed_by": CLOSED_BY_SYSTEM,
        "agent_closed_at": None,
        "full_close_at": None,
        "pending_closed_by": "",
    }, None


def _reopen(state, ev: Reopen, rules):
    if state.status not in (Status.CLOSED, Status.AUTO_CLOSED):
        raise IllegalTransition("not_reopenable", _("Only a closed conversation can be reopened."))
    return {
        "status": Status.CLIENT_WROTE_AFTER_AGENT,
        "closed_at": None,
        "agent_closed_at": None,
        "closed_by": "",
        "waiting_since": ev.at,
        "last_message_at": ev.at,
        "message_count": state.message_count + 1,
    }, None


def _client_rate(state, ev: ClientRate, rules):
    if ev.rating not in (1, -1):
        raise IllegalTransition("invalid_rating", _("A client rating is like or dislike."))
    if state.status == Status.DUPLICATE:
        raise IllegalTransition("closed", _("The conversation is already closed."))
    changes = {"client_rating": ev.rating}
    if state.status == Status.CLOSING:
        changes.update(_final_close(state, ev.at))
    return changes, None


def _breach(state, ev: Breach, rules):
    if not state.is_open or state.due_at is None or state.overdue or state.due_at > ev.at:
        raise IllegalTransition("not_due", _("The reply-time target is not missed yet."))
    return {"overdue": True, "sla_breaches": state.sla_breaches + 1}, Outcome(breached=True)


def _supervisor_rate(state, ev: SupervisorRate, rules):
    if ev.rating is not None and not 1 <= ev.rating <= 5:
        raise IllegalTransition("invalid_rating", _("The supervisor rating is from 1 to 5 stars."))
    return {"supervisor_rating": ev.rating, "supervisor_comment": ev.comment or ""}, None


_HANDLERS = {
    StartIncoming: _start_incoming,
    StartOutgoing: _start_outgoing,
    ClientMessage: _client_message,
    Offer: _offer,
    Take: _take,
    Skip: _skip,
    QueueTimeout: _queue_timeout,
    EmployeeMessage: _employee_message,
    Transfer: _transfer,
    Pin: _pin,
    Close: _close,
    FullClose: _full_close,
    AutoClose: _auto_close,
    MarkSpam: _spam,
    MarkDuplicate: _duplicate,
    Reopen: _reopen,
    ClientRate: _client_rate,
    SupervisorRate: _supervisor_rate,
    Breach: _breach,
}
