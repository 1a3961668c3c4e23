"""Bearer tokens: an employee's or an integration's API token, or (ingestion only) a connection secret."""

from __future__ import annotations

import datetime as dt
import hmac
import logging

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Router, Schema
from ninja.security import HttpBearer

from convodesk import crypto
from convodesk.accounts.access import level, levels_for
from convodesk.accounts.models import Level, User
from convodesk.lines.models import Connection
from convodesk.prepared import Prepared
from convodesk.ratelimit import LeakyBucket

from .errors import ApiError
from .models import ApiToken

LAST_USED_GRANULARITY = dt.timedelta(minutes=5)  # the last-used time is written at most this often
log = logging.getLogger("convodesk.api")


bucket = LeakyBucket()


def throttle(token_hash: str) -> None:
    """The per-token limit: a burst of API_RATE_BURST requests, then API_RATE_PER_SECOND a
    second, per web process; beyond it 429 with the seconds to wait in Retry-After."""
    capacity = settings.CONVODESK["API_RATE_BURST"]
    rate = settings.CONVODESK["API_RATE_PER_SECOND"]
    key = f"token:{token_hash}"
    if not bucket.allow(key, capacity, rate):
        wait = bucket.retry_after(key, capacity, rate)
        raise ApiError(
            429,
            "throttled",
            _("Too many requests with this token: retry in %(seconds)s s.") % {"seconds": wait},
            headers={"Retry-After": str(wait)},
        )


def note_use(row: ApiToken, now: dt.datetime | None = None) -> None:
    """Record the token's last use, at most once per LAST_USED_GRANULARITY (a status poll every
    second writes nothing in between), after and outside the request's transaction, if any.

    It is bookkeeping: a database too busy to take it (SQLite's one writer) skips it rather
    than failing the request; the next use after the granularity writes it.
    """
    now = now or timezone.now()
    if row.last_used_at is not None and now - row.last_used_at <= LAST_USED_GRANULARITY:
        return
    row.last_used_at = now

    def write():
        stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_GRANULARITY)
        try:
            ApiToken.objects.filter(stale, pk=row.pk).update(last_used_at=now)
        except DatabaseError:
            log.warning("last use of API token %s not recorded", row.prefix, exc_info=True)

    transaction.on_commit(write)


class TokenAuth(HttpBearer):
    """An API token; the request then acts as the token's user (`request.auth`)."""

    openapi_scheme = "bearer"

    def authenticate(self, request, token: str):
        if not token or len(token) > 200:
            return None
        row = (
            ApiToken.objects.active()
            .select_related("user")
            .filter(token_hash=crypto.hash_token(token))
            .first()
        )
        if row is None:
            return None
        throttle(row.token_hash)
        note_use(row)
        request.user = row.user
        request.api_token = row
        return row.user


class ConnectionSecretAuth(HttpBearer):
    """The connection's own secret; valid only for that connection's ingestion endpoint."""

    def authenticate(self, request, token: str):
        if not token or len(token) > 200:
            return None
        return token  # compared with the connection named in the path by `connection_for`


_CONNECTION = Prepared(lambda pk: Connection.objects.select_related("line").filter(pk=pk))


def connection_for(connection_id: int, secret: str) -> Connection:
    """A missing connection and a wrong secret answer alike, so no one learns which ids exist."""
    connection = _CONNECTION.first(connection_id)
    given = crypto.hash_token(secret)
    stored = connection.secret_hash if connection is not None else ""
    if not stored or not hmac.compare_digest(stored, given):
        raise ApiError(
            401, "unauthenticated", _("Unknown connection, or not the connection's secret.")
        )
    if not connection.active:
        raise ApiError(403, "connection_inactive", _("This connection is switched off."))
    return connection


def require_admin(user: User) -> None:
    """Provisioning belongs to administrators: the settings permission (every superuser has it)."""
    if not (user.is_superuser or level(user, "settings") >= Level.ALL):
        raise ApiError(403, "forbidden", _("Only administrators can do this."))


token_auth = TokenAuth()

router = Router(tags=["me"])


class MeOut(Schema):
    id: int
    username: str
    name: str
    email: str
    time_zone: str
    availability: str
    is_integration: bool
    levels: dict[str, int]


class AvailabilityIn(Schema):
    status: User.Availability


class AvailabilityOut(Schema):
    status: str


def set_availability(user: User, status: str) -> User:
    """The employee's own choice (online receives offers, away does not); the workspace's presence
    rules own it, so the API goes through them. It is the employee's state, not a conversation's."""
    from convodesk.workspace import presence

    if status not in User.Availability.values:
        raise ApiError(
            422,
            "validation_error",
            _("Unknown availability."),
            {"status": _("Unknown availability.")},
        )
    presence.choose(user.pk, status)
    user.refresh_from_db(fields=["availability"])
    return user


@router.get("/me", response=MeOut, summary="The token's user and their permission levels")
def me(request):
    user = request.auth
    return {
        "id": user.pk,
        "username": user.username,
        "name": user.name,
        "email": user.email,
        "time_zone": user.time_zone,
        "availability": user.availability,
        "is_integration": user.is_integration,
        "levels": {k: int(v) for k, v in levels_for(user).items()},
    }


@router.put(
    "/me/availability", response=AvailabilityOut, summary="Set the token user's availability"
)
def put_availability(request, payload: AvailabilityIn):
    user = set_availability(request.auth, payload.status)
    return {"status": user.availability}
