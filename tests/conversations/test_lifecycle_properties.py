"""Property-based tests of the pure lifecycle (SPEC "Conversation lifecycle", "The four time metrics").

Random event sequences with random increasing clocks run through `lifecycle.apply`. Next to
the machine, the test keeps its own log of the events that were accepted and recomputes the
four metrics and the reply times from that log with the SPEC definitions — never through
`lifecycle.metrics` or the state's own bookkeeping.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from convodesk.conversations import lifecycle as lc
from convodesk.conversations.lifecycle import IllegalTransition, Rules, State, Status
from convodesk.lines.calendar import Calendar, business_seconds

pytestmark = pytest.mark.nodb

T0 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
EMPLOYEES = (1, 2, 3)
KIND_WEIGHTS = {
    "client": 6, "employee": 6, "take": 4, "transfer": 3, "reopen": 1, "offer": 2, "skip": 2,
    "queue_timeout": 2, "close": 3, "full_close": 4, "auto_close": 3, "pin": 1, "spam": 1,
    "duplicate": 1, "client_rate": 1, "supervisor_rate": 1,
}  # fmt: skip
KINDS = tuple(kind for kind, weight in KIND_WEIGHTS.items() for _ in range(weight))
MESSAGE_EVENTS = (
    lc.StartIncoming,
    lc.StartOutgoing,
    lc.ClientMessage,
    lc.EmployeeMessage,
    lc.Reopen,
)
CLIENT_WAIT_STARTS = (lc.StartIncoming, lc.ClientMessage, lc.Reopen)


def secs(start, end) -> int | None:
    if start is None or end is None:
        return None
    return max(0, math.floor((end - start).total_seconds()))


@dataclass
class Entry:
    event: lc.Event
    before: int  # status before
    after: int  # status after


def expected_from_log(log: list[Entry]) -> dict:
    """Everything SPEC defines, recomputed from the accepted events alone."""
    first = log[0].event
    start = first.at
    incoming = isinstance(first, lc.StartIncoming)

    takes = [e.event for e in log if isinstance(e.event, lc.Take | lc.EmployeeMessage)]
    employee_messages = [e.event for e in log if isinstance(e.event, lc.EmployeeMessage)]
    messages = [e.event for e in log if isinstance(e.event, MESSAGE_EVENTS)]

    # Duration until agent closed: the current close episode, if a human started it.
    episode = None
    for e in log:
        if e.before < Status.CLOSING <= e.after:
            episode = e.event
        if e.after < Status.CLOSING:
            episode = None
    human_close = isinstance(episode, lc.MarkSpam) or (
        isinstance(episode, lc.Close) and episode.by == lc.CLOSED_BY_EMPLOYEE
    )
    agent_closed = episode.at if human_close and log[-1].after != Status.DUPLICATE else None

    # Reply periods: from the first unanswered client message to the next employee message;
    # a period still open when the conversation closes (or goes to closing mode) is dropped.
    periods, waiting = [], None
    for e in log:
        ev = e.event
        if isinstance(ev, CLIENT_WAIT_STARTS) and waiting is None:
            waiting = ev.at
        elif isinstance(ev, lc.EmployeeMessage) and waiting is not None:
            periods.append((secs(waiting, ev.at), ev.employee, waiting, ev.at))
            waiting = None
        if e.after >= Status.CLOSING and e.before < Status.CLOSING:
            waiting = None
    seconds = [p[0] for p in periods]

    return {
        "type": lc.INCOMING if incoming else lc.OUTGOING,
        "started_at": start,
        "agent_response_time": secs(start, takes[0].at) if incoming and takes else None,
        "first_answer_wait": (
            secs(start, employee_messages[0].at) if incoming and employee_messages else None
        ),
        "duration": secs(start, messages[-1].at),
        "time_to_agent_close": secs(start, agent_closed),
        "waiting_since": waiting,
        "message_count": len(messages),
        "transfer_count": sum(isinstance(e.event, lc.Transfer) for e in log),
        "reply_count": len(seconds),
        "reply_time_first": seconds[0] if seconds else None,
        "reply_time_total": sum(seconds) if seconds else None,
        "reply_time_avg": sum(seconds) // len(seconds) if seconds else None,
        "reply_time_max": max(seconds) if seconds else None,
        "period_employees": [p[1] for p in periods],
        "period_spans": [(p[2], p[3]) for p in periods],
        "spans": {
            "agent_response_time_bh": (start, takes[0].at) if incoming and takes else None,
            "first_answer_wait_bh": (
                (start, employee_messages[0].at) if incoming and employee_messages else None
            ),
            "duration_bh": (start, messages[-1].at),
            "time_to_agent_close_bh": (start, agent_closed) if agent_closed else None,
        },
    }


def closing_episode(log: list[Entry]) -> lc.Event | None:
    """The event that moved the conversation to 50 or above most recently."""
    for e in reversed(log):
        if e.before < Status.CLOSING <= e.after:
            return e.event
    return None


def expected_status(state: State, event: lc.Event, rules: Rules, log: list[Entry]) -> int:
    """SPEC's status rules, restated from the table, for an accepted event."""
    before = state.status
    closing = rules.closing_mode
    if isinstance(event, lc.ClientMessage):
        if before in (0, 5):
            return before
        return 20 if before in (10, 20) else 25
    if isinstance(event, lc.EmployeeMessage):
        return 40
    if isinstance(event, lc.Take):
        return max(before, 10)
    if isinstance(event, lc.Skip | lc.QueueTimeout):
        return before if rules.distribution == "all_at_once" else 5
    if isinstance(event, lc.Transfer):
        return 5
    if isinstance(event, lc.Close):
        if closing:
            return 50
        return 60 if event.by == lc.CLOSED_BY_EMPLOYEE else 75
    if isinstance(event, lc.AutoClose):
        return 50 if closing else 75
    if isinstance(event, lc.FullClose) or (isinstance(event, lc.ClientRate) and before == 50):
        started = closing_episode(log)
        return 60 if isinstance(started, lc.Close) and started.by == lc.CLOSED_BY_EMPLOYEE else 75
    if isinstance(event, lc.MarkSpam):
        return 65
    if isinstance(event, lc.MarkDuplicate):
        return 69
    if isinstance(event, lc.Reopen):
        return 25
    return before  # offer, pin, ratings


def simple_of(code: int) -> str:
    if code in (0, 5, 10, 20, 25):
        return "waiting"
    if code in (40, 50):
        return "answered"
    assert code in (60, 65, 69, 75), code
    return "closed"


def must_refuse(state: State, event: lc.Event) -> str | None:
    """The transitions SPEC forbids outright; the reason, or None when SPEC does not forbid it."""
    status = state.status
    closed = status >= Status.CLOSED
    if isinstance(event, lc.Reopen) and status not in (Status.CLOSED, Status.AUTO_CLOSED):
        return "only 60 or 75 reopen"
    if isinstance(event, lc.MarkDuplicate) and status in (Status.SPAM, Status.DUPLICATE):
        return "65 and 69 are final"
    if closed and isinstance(
        event,
        lc.ClientMessage
        | lc.EmployeeMessage
        | lc.Take
        | lc.Skip
        | lc.Transfer
        | lc.Close
        | lc.MarkSpam
        | lc.Pin
        | lc.AutoClose
        | lc.FullClose
        | lc.Offer
        | lc.QueueTimeout,
    ):
        return "closed"
    if status == Status.CLOSING and isinstance(
        event, lc.Take | lc.Transfer | lc.Close | lc.MarkSpam
    ):
        return "closing"
    if (
        isinstance(event, lc.Take)
        and Status.TAKEN <= status < Status.CLOSING
        and state.taken_at is not None
        and state.responsible not in (None, event.employee)
    ):
        return "already taken by someone else"
    return None


def must_accept(state: State, event: lc.Event) -> bool:
    """Messages to an open conversation are always stored."""
    return state.status < Status.CLOSED and isinstance(event, lc.ClientMessage | lc.EmployeeMessage)


def build(
    kind: str, at: dt.datetime, employee: int, flag: bool, state: State
) -> tuple[lc.Event, dt.datetime]:
    """The event for a drawn step; timer events may be moved to their due time (`flag`)."""

    def due(field):
        moment = getattr(state, field)
        return max(at, moment) if flag and moment is not None else at

    match kind:
        case "client":
            # Like the services inside a reopen window: a client message to 60/75 reopens it.
            if flag and state.status in (Status.CLOSED, Status.AUTO_CLOSED):
                return lc.Reopen(at), at
            return lc.ClientMessage(at), at
        case "employee":
            return lc.EmployeeMessage(at, employee), at
        case "take":
            return lc.Take(at, employee), at
        case "offer":
            return lc.Offer(at, employee, assign=flag), at
        case "skip":
            return lc.Skip(at, employee), at
        case "queue_timeout":
            at = due("offer_expires_at")
            return lc.QueueTimeout(at), at
        case "transfer":
            return lc.Transfer(at, employee if flag else None), at
        case "pin":
            return lc.Pin(at, flag), at
        case "close":
            return lc.Close(
                at,
                lc.CLOSED_BY_EMPLOYEE if flag else lc.CLOSED_BY_SYSTEM,
                employee if flag else None,
            ), at
        case "full_close":
            at = due("full_close_at")
            return lc.FullClose(at), at
        case "auto_close":
            at = due("auto_close_at")
            return lc.AutoClose(at), at
        case "spam":
            return lc.MarkSpam(at, employee), at
        case "duplicate":
            return lc.MarkDuplicate(at), at
        case "reopen":
            return lc.Reopen(at), at
        case "client_rate":
            return lc.ClientRate(at, 1 if flag else -1), at
        case "supervisor_rate":
            return lc.SupervisorRate(at, employee + 2 if flag else None, "ok"), at
    raise AssertionError(kind)


step = st.tuples(
    st.sampled_from(KINDS),
    st.one_of(
        st.integers(0, 90_000),  # up to 90 s, in milliseconds
        st.integers(0, 6 * 3600_000),  # up to 6 h
        st.integers(0, 8 * 86400_000),  # up to 8 days (pinned auto-close)
    ),
    st.sampled_from(EMPLOYEES),
    st.booleans(),
)

CALENDARS = [
    lc.ALWAYS,
    Calendar.of({"0": [["09:00", "17:00"]], "2": [["08:00", "12:00"], ["13:00", "18:00"]],
                 "4": [["10:00", "24:00"]], "5": [["00:00", "03:00"]]},
                "Europe/Madrid", ["2026-03-04"]),
    Calendar.of({}, "America/New_York", ["2026-03-02", "2026-03-03"]),
]  # fmt: skip

rules_strategy = st.builds(
    Rules,
    calendar=st.sampled_from(CALENDARS),
    first_target=st.sampled_from([None, 60, 3600]),
    first_target_business=st.booleans(),
    next_target=st.sampled_from([None, 120, 7200]),
    next_target_business=st.booleans(),
    distribution=st.sampled_from(["all_at_once", "evenly", "strict"]),
    queue_timeout=st.sampled_from([dt.timedelta(seconds=30), dt.timedelta(seconds=60)]),
    auto_close=st.sampled_from([dt.timedelta(minutes=5), dt.timedelta(hours=4)]),
    closing_mode=st.booleans(),
    full_close=st.sampled_from([dt.timedelta(minutes=1), dt.timedelta(minutes=10)]),
)


DEFAULT_RULES = Rules()


def check(state: State, log: list[Entry], rules: Rules = DEFAULT_RULES) -> None:
    want = expected_from_log(log)
    got_metrics = lc.metrics(state)
    # Business hours: the same spans, counted inside the (fixed) calendar.
    for key, span in want["spans"].items():
        expected = business_seconds(*span, rules.calendar) if span else None
        assert got_metrics[key] == expected, key
    business = [business_seconds(a, b, rules.calendar) for a, b in want["period_spans"]]
    assert state.reply_time_first_bh == (business[0] if business else None)
    assert state.reply_time_total_bh == (sum(business) if business else None)
    assert state.reply_time_max_bh == (max(business) if business else None)
    # The due instant: the current wait's start plus its target (first answer until the first
    # employee message, next reply after it); none when nobody waits or it is closing/closed.
    waiting = want["waiting_since"]
    expected_due = None
    if waiting is not None and state.status < Status.CLOSING:
        first = state.first_reply_at is None
        target = rules.first_target if first else rules.next_target
        business_target = rules.first_target_business if first else rules.next_target_business
        if target:
            expected_due = lc.due_instant(waiting, target, business_target, rules.calendar)
    assert state.due_at == expected_due
    if state.due_at is None:
        assert not state.overdue
    for key in ("agent_response_time", "first_answer_wait", "duration", "time_to_agent_close"):
        assert got_metrics[key] == want[key], key
    assert got_metrics["reply_time_avg"] == want["reply_time_avg"]
    for key in (
        "type", "started_at", "waiting_since", "message_count", "transfer_count", "reply_count",
        "reply_time_first", "reply_time_total", "reply_time_max",
    ):  # fmt: skip
        assert getattr(state, key) == want[key], key
    # The simple status always matches the detailed one.
    assert state.status in {int(s) for s in Status}
    assert lc.simple_status(state.status) == simple_of(state.status)
    # Closed conversations carry their close; open ones do not.
    if state.status >= Status.CLOSED:
        assert state.closed_at is not None and state.closed_by
        assert state.auto_close_at is None and state.offer_expires_at is None
    else:
        assert state.closed_at is None
    if state.status == Status.CLOSING:
        assert state.full_close_at is not None and state.pending_closed_by
    # The seed's "agent replied" filter reads first_reply_at.
    if state.type == lc.INCOMING:
        assert (state.first_reply_at is not None) == any(
            isinstance(e.event, lc.EmployeeMessage) for e in log
        )


@given(
    outgoing=st.booleans(),
    rules=rules_strategy,
    steps=st.lists(step, min_size=10, max_size=40),
)
def test_random_event_sequences_keep_metrics_reply_times_and_statuses_equal_to_their_definitions(
    outgoing, rules, steps
):
    clock = T0
    first = lc.StartOutgoing(clock, 1) if outgoing else lc.StartIncoming(clock)
    state, _ = lc.apply(State(), first, rules)
    log = [Entry(first, Status.NEW, state.status)]
    check(state, log, rules)
    credited = []
    for kind, millis, employee, flag in steps:
        clock = clock + dt.timedelta(milliseconds=millis)
        event, clock = build(kind, clock, employee, flag, state)
        snapshot = copy.deepcopy(state)
        forbidden = must_refuse(state, event)
        try:
            new_state, outcome = lc.apply(state, event, rules)
        except IllegalTransition as err:
            assert err.code and str(err.message)
            assert state == snapshot  # nothing changed
            assert not must_accept(state, event), f"{event} refused at {state.status}"
            continue
        assert forbidden is None, f"{event} accepted at {state.status}: {forbidden}"
        assert new_state.status == expected_status(state, event, rules, log), event
        if isinstance(event, lc.Transfer | lc.Take):
            assert new_state.responsible == event.employee
        if isinstance(event, lc.Skip | lc.QueueTimeout) and rules.distribution != "all_at_once":
            assert new_state.responsible is None
        if new_state.status >= Status.CLOSED:
            expected_by = {60: "employee", 65: "employee", 69: "system"}.get(new_state.status)
            if new_state.status == Status.AUTO_CLOSED:
                started = closing_episode(log + [Entry(event, state.status, new_state.status)])
                expected_by = "automatic" if isinstance(started, lc.AutoClose) else "system"
            assert new_state.closed_by == expected_by
        log.append(Entry(event, state.status, new_state.status))
        if outcome.reply_period is not None:
            credited.append(outcome.reply_period[3])
            start, end, seconds, _employee = outcome.reply_period
            assert seconds == secs(start, end)
        state = new_state
        check(state, log, rules)
        assert credited == expected_from_log(log)["period_employees"]


@given(rules=rules_strategy, steps=st.lists(step, min_size=5, max_size=30))
def test_a_client_message_never_changes_the_first_only_metrics(rules, steps):
    """Once set, agent response time and waiting for the answer never move (transfers, reopens)."""
    clock = T0
    state, _ = lc.apply(State(), lc.StartIncoming(clock), rules)
    seen = {}
    for kind, millis, employee, flag in steps:
        clock = clock + dt.timedelta(milliseconds=millis)
        event, clock = build(kind, clock, employee, flag, state)
        try:
            state, _ = lc.apply(state, event, rules)
        except IllegalTransition:
            continue
        values = lc.metrics(state)
        for key in ("agent_response_time", "first_answer_wait"):
            if key in seen:
                assert values[key] == seen[key], key
            elif values[key] is not None:
                seen[key] = values[key]
        assert state.started_at == T0
