"""Invariants every stored conversation satisfies, whoever wrote it (services or the bulk generator).

`check(conversations)` reads the given queryset with a few aggregate queries and returns a list
of human-readable violations (empty when everything holds). It reads in batches, so it also runs
over a sample of a generated data set of millions of rows.
"""

from __future__ import annotations

import math
from collections import defaultdict

from django.db.models import BooleanField, Count, F, Max, Min, Q

from convodesk.conversations import lifecycle
from convodesk.conversations.lifecycle import Status
from convodesk.conversations.models import (
    Conversation,
    ConversationParticipant,
    Message,
    ReplyPeriod,
)

VALID_STATUS = {int(s) for s in Status}
CLOSED_BY = {
    lifecycle.CLOSED_BY_EMPLOYEE,
    lifecycle.CLOSED_BY_AUTOMATIC,
    lifecycle.CLOSED_BY_SYSTEM,
}
BATCH = 2000

FIELDS = (
    "id",
    "type",
    "status",
    "channel",
    "connection_id",
    "identity_id",
    "client_id",
    "responsible_id",
    "started_at",
    "assigned_at",
    "taken_at",
    "first_reply_at",
    "last_message_at",
    "agent_closed_at",
    "closed_at",
    "closed_by",
    "pending_closed_by",
    "waiting_since",
    "message_count",
    "spam",
    "client_rating",
    "supervisor_rating",
    "agent_response_time",
    "first_answer_wait",
    "duration",
    "time_to_agent_close",
    "reply_count",
    "reply_time_first",
    "reply_time_total",
    "reply_time_avg",
    "reply_time_max",
    "auto_close_at",
    "full_close_at",
    "offer_expires_at",
    "connection__kind",
)


def _floor(start, end):
    if start is None or end is None:
        return None
    return max(0, math.floor((end - start).total_seconds()))


def _row_violations(c: dict) -> list[str]:
    """Rules that read one conversation row alone."""
    out = []
    code = c["status"]
    closed = code >= Status.CLOSED
    incoming = c["type"] == lifecycle.INCOMING

    def bad(text):
        out.append(f"#{c['id']}: {text}")

    if code not in VALID_STATUS:
        bad(f"unknown status {code}")
        return out
    if c["type"] not in (lifecycle.INCOMING, lifecycle.OUTGOING):
        bad(f"unknown type {c['type']!r}")
    simple = lifecycle.simple_status(code)
    lo, hi = lifecycle.SIMPLE_RANGES[simple]
    if not lo <= code <= hi:
        bad(f"simple status {simple} does not cover {code}")
    if c["channel"] != c["connection__kind"]:
        bad(f"channel {c['channel']} differs from its connection's kind {c['connection__kind']}")

    # Metrics are the floor of their timestamp differences (SPEC "The four time metrics").
    expected = {
        "agent_response_time": _floor(c["started_at"], c["taken_at"]) if incoming else None,
        "first_answer_wait": _floor(c["started_at"], c["first_reply_at"]) if incoming else None,
        "duration": _floor(c["started_at"], c["last_message_at"]),
        "time_to_agent_close": _floor(c["started_at"], c["agent_closed_at"]),
        "reply_time_avg": c["reply_time_total"] // c["reply_count"] if c["reply_count"] else None,
    }
    for name, value in expected.items():
        if c[name] != value:
            bad(f"{name} is {c[name]}, expected {value}")

    # Timestamps never run backwards from the start.
    for name in (
        "assigned_at",
        "taken_at",
        "first_reply_at",
        "last_message_at",
        "agent_closed_at",
        "closed_at",
    ):
        if c[name] is not None and c[name] < c["started_at"]:
            bad(f"{name} before started_at")
    if c["first_reply_at"] and c["last_message_at"] and c["first_reply_at"] > c["last_message_at"]:
        bad("first_reply_at after last_message_at")
    if c["message_count"] < 1:
        bad("message_count below 1")

    if not incoming:
        if c["responsible_id"] is None:
            bad("outgoing conversation without a responsible employee")
        if c["taken_at"] != c["started_at"] or c["first_reply_at"] != c["started_at"]:
            bad("outgoing conversation not taken and answered at its start")

    # Closed fields only when closed, and the closing kind matches the code.
    if closed:
        if c["closed_at"] is None or c["closed_by"] not in CLOSED_BY:
            bad("closed without closed_at / closed_by")
        for name in ("waiting_since", "auto_close_at", "offer_expires_at", "full_close_at"):
            if c[name] is not None:
                bad(f"closed but {name} is set")
        if c["pending_closed_by"]:
            bad("closed but pending_closed_by is set")
        if code in (Status.CLOSED, Status.SPAM) and (
            c["closed_by"] != lifecycle.CLOSED_BY_EMPLOYEE or c["agent_closed_at"] is None
        ):
            bad(f"status {code} needs closed_by employee and agent_closed_at")
        if code == Status.AUTO_CLOSED and (
            c["closed_by"] not in (lifecycle.CLOSED_BY_AUTOMATIC, lifecycle.CLOSED_BY_SYSTEM)
            or c["agent_closed_at"] is not None
        ):
            bad("auto-closed needs closed_by automatic/system and no agent_closed_at")
        if code == Status.DUPLICATE and (
            c["closed_by"] != lifecycle.CLOSED_BY_SYSTEM or c["agent_closed_at"]
        ):
            bad("duplicate needs closed_by system and no agent_closed_at")
        if code == Status.SPAM and not c["spam"]:
            bad("status spam without the spam flag")
    else:
        if c["closed_at"] is not None or c["closed_by"]:
            bad("open but closed_at / closed_by is set")
        pending_employee = (
            code == Status.CLOSING and c["pending_closed_by"] == lifecycle.CLOSED_BY_EMPLOYEE
        )
        if c["agent_closed_at"] is not None and not pending_employee:
            bad("open but agent_closed_at is set")
        if code == Status.CLOSING and (not c["pending_closed_by"] or c["full_close_at"] is None):
            bad("closing without pending_closed_by / full_close_at")
        if code != Status.CLOSING and (c["pending_closed_by"] or c["full_close_at"] is not None):
            bad("not closing but a full close is pending")
        if code == Status.AGENT_REPLIED and (
            c["auto_close_at"] is None or c["first_reply_at"] is None
        ):
            bad("agent replied without auto_close_at / first_reply_at")
        if (
            code in (Status.TAKEN, Status.CLIENT_WROTE, Status.AGENT_REPLIED)
            and c["taken_at"] is None
        ):
            bad(f"status {code} but never taken")
        if (
            code in (Status.CLIENT_WROTE, Status.CLIENT_WROTE_AFTER_AGENT)
            and c["waiting_since"] is None
        ):
            bad("client wrote but waiting_since is empty")
        if code == Status.AGENT_REPLIED and c["waiting_since"] is not None:
            bad("agent replied but waiting_since is set")
    if c["waiting_since"] is not None and c["waiting_since"] < c["started_at"]:
        bad("waiting_since before started_at")

    if c["client_rating"] not in (None, 1, -1):
        bad(f"client_rating {c['client_rating']}")
    if c["supervisor_rating"] is not None and not 1 <= c["supervisor_rating"] <= 5:
        bad(f"supervisor_rating {c['supervisor_rating']}")

    # Reply-time columns agree with each other.
    if c["reply_count"] == 0:
        if any(
            c[k] is not None for k in ("reply_time_first", "reply_time_total", "reply_time_max")
        ):
            bad("reply times set without reply periods")
    elif (
        c["reply_time_first"] is None
        or c["reply_time_total"] is None
        or c["reply_time_max"] is None
    ):
        bad("reply_count set but reply times empty")
    return out


# Every boolean flag of a participant; `sees` is recomputed from them with the model's own rule.
FLAG_FIELDS = tuple(
    f.name
    for f in ConversationParticipant._meta.concrete_fields
    if isinstance(f, BooleanField) and f.name != "sees"
)


def _participants(ids) -> dict[int, list[dict]]:
    rows = defaultdict(list)
    fields = ("conversation_id", "employee_id", "started_at", "sees", *FLAG_FIELDS)
    for p in ConversationParticipant.objects.filter(conversation_id__in=ids).values(*fields):
        rows[p["conversation_id"]].append(p)
    return rows


def _periods(ids) -> dict[int, list[dict]]:
    rows = defaultdict(list)
    qs = ReplyPeriod.objects.filter(conversation_id__in=ids).order_by("ended_at", "id")
    for p in qs.values("conversation_id", "employee_id", "started_at", "ended_at", "seconds"):
        rows[p["conversation_id"]].append(p)
    return rows


def _messages(ids) -> dict[int, dict]:
    qs = (
        Message.objects.filter(conversation_id__in=ids)
        .values("conversation_id")
        .annotate(
            total=Count("id"),
            counted=Count(
                "id", filter=Q(author_kind__in=(Message.Author.CLIENT, Message.Author.EMPLOYEE))
            ),
            first=Min(
                "created_at",
                filter=Q(author_kind__in=(Message.Author.CLIENT, Message.Author.EMPLOYEE)),
            ),
            last=Max(
                "created_at",
                filter=Q(author_kind__in=(Message.Author.CLIENT, Message.Author.EMPLOYEE)),
            ),
        )
    )
    return {m["conversation_id"]: m for m in qs}


def _related_violations(
    c: dict, parts: list[dict], periods: list[dict], msgs: dict | None
) -> list[str]:
    out = []

    def bad(text):
        out.append(f"#{c['id']}: {text}")

    code = c["status"]
    responsible = [p for p in parts if p["is_responsible"]]
    for p in parts:
        probe = ConversationParticipant(**{name: p[name] for name in FLAG_FIELDS})
        probe.refresh_sees()
        sees = probe.sees
        if p["sees"] != sees:
            bad(f"participant {p['employee_id']}: sees={p['sees']} but should be {sees}")
        if p["started_at"] != c["started_at"]:
            bad(f"participant {p['employee_id']}: started_at differs from the conversation's")
        if p["offered_now"] and not p["ever_offered"]:
            bad(f"participant {p['employee_id']}: offered now but never offered")
        if p["offered_now"] and code >= Status.CLOSING:
            bad(f"participant {p['employee_id']}: still offered at status {code}")
    if c["responsible_id"] is None:
        if responsible:
            bad("a participant is responsible but the conversation has no responsible employee")
    elif [p["employee_id"] for p in responsible] != [c["responsible_id"]]:
        bad("the responsible employee is not the one responsible participant")
    took = any(p["took"] for p in parts)
    if (c["taken_at"] is not None) != took:
        bad(f"taken_at={c['taken_at']} but a participant took it: {took}")
    if c["type"] == lifecycle.INCOMING and (c["first_reply_at"] is not None) != any(
        p["wrote"] for p in parts
    ):
        bad("first_reply_at and the participants' wrote flags disagree")

    # Reply-time columns are the stored reply periods.
    if len(periods) != c["reply_count"]:
        bad(f"reply_count {c['reply_count']} but {len(periods)} reply periods")
    elif periods:
        seconds = [p["seconds"] for p in periods]
        if c["reply_time_first"] != seconds[0]:
            bad("reply_time_first differs from the first reply period")
        # For incoming conversations the first reply time is the wait for the agent's answer,
        # unless that first wait was dropped by a close without reply (then a reopen starts anew).
        if (
            c["type"] == lifecycle.INCOMING
            and periods[0]["started_at"] == c["started_at"]
            and c["reply_time_first"] != c["first_answer_wait"]
        ):
            bad("reply_time_first differs from first_answer_wait")
        if c["reply_time_total"] != sum(seconds):
            bad("reply_time_total differs from the reply periods' sum")
        if c["reply_time_max"] != max(seconds):
            bad("reply_time_max differs from the longest reply period")
    for p in periods:
        if p["seconds"] != _floor(p["started_at"], p["ended_at"]):
            bad("a reply period's seconds differ from its span")
        if p["started_at"] < c["started_at"] or (
            c["last_message_at"] and p["ended_at"] > c["last_message_at"]
        ):
            bad("a reply period lies outside the conversation")
        if p["employee_id"] is not None and p["employee_id"] not in {
            x["employee_id"] for x in parts
        }:
            bad("a reply period is credited to an employee who is not a participant")

    if msgs is not None and msgs["counted"]:
        if msgs["counted"] != c["message_count"]:
            bad(
                f"message_count {c['message_count']} but {msgs['counted']} client/employee messages"
            )
        if msgs["first"] != c["started_at"]:
            bad("the first message is not at started_at")
        if msgs["last"] != c["last_message_at"]:
            bad("the last client/employee message is not at last_message_at")
    return out


def _identity_violations(ids) -> list[str]:
    out = []
    bad_identity = (
        Conversation.objects.filter(pk__in=ids)
        .exclude(identity__client_id=F("client_id"))
        .values_list("id", flat=True)
    )
    out += [f"#{i}: its identity belongs to another client" for i in bad_identity[:50]]
    bad_conn = (
        Conversation.objects.filter(pk__in=ids)
        .exclude(identity__connection_id=F("connection_id"))
        .values_list("id", flat=True)
    )
    out += [f"#{i}: its identity belongs to another connection" for i in bad_conn[:50]]
    return out


def _open_per_identity(queryset) -> list[str]:
    """At most one open conversation per client identity and connection (over the whole table)."""
    identities = queryset.filter(status__lt=lifecycle.OPEN_BELOW).values("identity_id")
    dupes = (
        Conversation.objects.filter(identity_id__in=identities, status__lt=lifecycle.OPEN_BELOW)
        .values("identity_id", "connection_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    return [f"identity {d['identity_id']}: {d['n']} open conversations" for d in dupes[:50]]


def check(conversations, limit: int = 200) -> list[str]:
    """Violations of the stored-conversation invariants in `conversations` (a queryset), at most `limit`."""
    violations: list[str] = []
    ids_qs = conversations.order_by("pk").values_list("pk", flat=True)
    last = None
    while len(violations) < limit:
        page = ids_qs if last is None else ids_qs.filter(pk__gt=last)
        ids = list(page[:BATCH])
        if not ids:
            break
        last = ids[-1]
        rows = list(Conversation.objects.filter(pk__in=ids).values(*FIELDS))
        parts, periods, msgs = _participants(ids), _periods(ids), _messages(ids)
        for c in rows:
            violations += _row_violations(c)
            violations += _related_violations(
                c, parts.get(c["id"], []), periods.get(c["id"], []), msgs.get(c["id"])
            )
        violations += _identity_violations(ids)
    violations += _open_per_identity(conversations)
    return violations[:limit]


__all__ = ["check"]
