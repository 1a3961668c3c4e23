"""The floor: hand-written SQL returning the same rows as each list request, on the same database.

The queries follow reference/sql-floor.md: the narrowest index walk for the filter, the display
joins only for the 50 rows, the participant index (employee, started_at desc) for "own", a deferred
join for an OFFSET jump, and counts capped at the threshold.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

C, CL, L, U, P = (
    "conversations_conversation",
    "conversations_client",
    "lines_line",
    "accounts_user",
    "conversations_conversationparticipant",
)
COLUMNS = (
    "c.id, c.type, c.status, c.channel, l.name, cl.name, cl.phone, cl.email, c.crm_entity_type, "
    "c.crm_entity_id, c.crm_title, e.username, e.display_name, c.started_at, c.first_reply_at, "
    "c.last_message_at, c.agent_closed_at, c.agent_response_time, c.first_answer_wait, c.duration, "
    "c.time_to_agent_close, c.message_count, c.client_rating, c.supervisor_rating"
)
JOINS = f"JOIN {CL} cl ON cl.id = c.client_id JOIN {L} l ON l.id = c.line_id LEFT JOIN {U} e ON e.id = c.responsible_id"
THRESHOLD = 100000


@dataclass
class Spec:
    where: str = ""
    params: list = field(default_factory=list)
    own: int | None = None  # employee id: the "own" rule through the participant index
    employees: list[int] | None = None  # the "department" rule
    name: str = ""  # client name contains
    sort: str = ""  # a metric, descending, empty values last
    offset: int = 0


def _param(value, vendor):
    if isinstance(value, dt.datetime) and vendor == "sqlite":
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    return value


def _sees(vendor) -> str:
    return "p.sees"  # the partial index's own condition, so both planners can use it


def _conditions(spec: Spec, vendor: str) -> tuple[list[str], list]:
    where, params = [], []
    if spec.where:
        where.append(spec.where)
        params += spec.params
    if spec.employees is not None:
        marks = ", ".join("%s" for _ in spec.employees)
        where.append(
            f"EXISTS (SELECT 1 FROM {P} p WHERE p.conversation_id = c.id AND p.employee_id IN ({marks}) "
            f"AND {_sees(vendor)})"
        )
        params += spec.employees
    if spec.name:
        # The accent- and case-free name the list matches (Client.name_search, issue 22).
        from convodesk.conversations.normalize import fold_name

        where.append("cl.name_search LIKE %s")
        params.append(f"%{fold_name(spec.name)}%")
    return where, params


def _order(spec: Spec) -> str:
    if spec.sort:
        return f"c.{spec.sort} DESC NULLS LAST, c.id DESC"
    return "c.started_at DESC, c.id DESC"


def list_sql(spec: Spec, vendor: str) -> tuple[str, list]:
    """SQL (with %s placeholders) and parameters returning the request's 50 rows."""
    where, params = _conditions(spec, vendor)
    where_sql = (" WHERE " + " AND ".join(where)) if where else ""
    if spec.own is not None:
        sql = (
            f"SELECT {COLUMNS} FROM (SELECT p.conversation_id, p.started_at FROM {P} p WHERE p.employee_id = %s "
            f"AND {_sees(vendor)} ORDER BY p.started_at DESC, p.conversation_id DESC LIMIT 50) pg "
            f"JOIN {C} c ON c.id = pg.conversation_id {JOINS}{where_sql} ORDER BY {_order(spec)}"
        )
        params = [spec.own] + params
    elif spec.offset:
        sql = (
            f"SELECT {COLUMNS} FROM (SELECT c0.id FROM {C} c0 ORDER BY c0.started_at DESC, c0.id DESC "
            f"LIMIT 50 OFFSET {int(spec.offset)}) pg JOIN {C} c ON c.id = pg.id {JOINS}{where_sql} "
            f"ORDER BY {_order(spec)}"
        )
    else:
        sql = f"SELECT {COLUMNS} FROM {C} c {JOINS}{where_sql} ORDER BY {_order(spec)} LIMIT 50"
    return sql, [_param(p, vendor) for p in params]


def count_sql(spec: Spec, vendor: str) -> tuple[str, list]:
    """A count capped at the threshold, over the narrowest table that answers it."""
    if spec.own is not None:
        return (
            f"SELECT count(*) FROM (SELECT 1 FROM {P} p WHERE p.employee_id = %s AND {_sees(vendor)} "
            f"LIMIT {THRESHOLD + 1}) s",
            [spec.own],
        )
    if spec.employees is not None and not spec.where and not spec.name:
        marks = ", ".join("%s" for _ in spec.employees)
        return (
            f"SELECT count(*) FROM (SELECT DISTINCT p.conversation_id FROM {P} p WHERE p.employee_id IN "
            f"({marks}) AND {_sees(vendor)} LIMIT {THRESHOLD + 1}) s",
            list(spec.employees),
        )
    where, params = _conditions(spec, vendor)
    join = f" JOIN {CL} cl ON cl.id = c.client_id" if "cl." in " ".join(where) else ""
    where_sql = (" WHERE " + " AND ".join(where)) if where else ""
    return (
        f"SELECT count(*) FROM (SELECT 1 FROM {C} c{join}{where_sql} LIMIT {THRESHOLD + 1}) s",
        [_param(p, vendor) for p in params],
    )
