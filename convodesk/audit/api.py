"""GET /api/v1/audit: the audit log for administrators, newest first, as the settings screen
shows it (secrets were masked when each entry was written). Paged by keyset: pass the last
entry's id as `before` to read the next page."""

from __future__ import annotations

import datetime as dt

from ninja import Field, Query, Router, Schema

from convodesk.api.auth import require_admin

from .models import AuditEntry

router = Router(tags=["audit"])


class AuditQuery(Schema):
    object: str | None = Field(
        None, max_length=50, description='The kind of object, e.g. "line", "connection".'
    )
    object_id: str | None = Field(None, max_length=40, description="One object's id.")
    before: int | None = Field(
        None, ge=1, le=2**62, description="Only entries older than this entry id."
    )
    limit: int = Field(50, ge=1, le=500)


class AuditActor(Schema):
    id: int
    username: str
    name: str


class AuditEntryOut(Schema):
    id: int
    at: dt.datetime
    actor: AuditActor | None = Field(None, description="None: a command or a deleted employee.")
    action: str = Field(..., description="create, update, delete, deactivate or rotate_secret")
    object: str
    object_id: str
    object_name: str
    before: dict
    after: dict


class AuditPage(Schema):
    entries: list[AuditEntryOut]
    next_before: int | None = Field(None, description="Pass as `before` for the next page.")


@router.get("/audit", response=AuditPage, summary="Read the audit log")
def audit_log(request, query: Query[AuditQuery]):
    require_admin(request.auth)
    rows = AuditEntry.objects.select_related("actor").order_by("-id")
    if query.object:
        rows = rows.filter(object_type=query.object)
    if query.object_id:
        rows = rows.filter(object_id=query.object_id)
    if query.before:
        rows = rows.filter(id__lt=query.before)
    page = list(rows[: query.limit + 1])
    more = len(page) > query.limit
    page = page[: query.limit]
    return {
        "entries": [
            {
                "id": e.pk,
                "at": e.at,
                "actor": (
                    {"id": e.actor.pk, "username": e.actor.username, "name": e.actor.name}
                    if e.actor
                    else None
                ),
                "action": e.action,
                "object": e.object_type,
                "object_id": e.object_id,
                "object_name": e.object_repr,
                "before": e.before,
                "after": e.after,
            }
            for e in page
        ],
        "next_before": page[-1].pk if more else None,
    }
