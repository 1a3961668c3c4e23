"""user.current, profile, server.time; paging helpers the list methods share."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from convodesk.accounts.access import level
from convodesk.accounts.models import Level

from .registry import method
from .transport import PAGE_SIZE, B24Error, Result, iso


def start_of(params: dict) -> int:
    """`start`: the row to begin at (-1: no count, the client's fast paging)."""
    raw = params.get("start", 0)
    if raw in (None, ""):
        return 0
    try:
        start = int(raw)
    except (TypeError, ValueError):
        raise B24Error("INVALID_ARG_VALUE", _("start must be a whole number.")) from None
    if start < -1 or start > 10**9:
        raise B24Error("INVALID_ARG_VALUE", _("start must be a whole number.")) from None
    return start


def page(
    queryset, params: dict, size: int = PAGE_SIZE, counted=None
) -> tuple[list, int | None, int | None]:
    """One page of `size` rows from `start`, with the total (of `counted`, the same rows in a
    shape cheaper to count, when given) and the next start (None past the end); start=-1
    counts nothing and answers the first page without total or next."""
    start = start_of(params)
    if start == -1:
        return list(queryset[:size]), None, None
    total = (queryset if counted is None else counted).count()
    rows = list(queryset[start : start + size]) if start < total else []
    following = start + size
    return rows, total, following if following < total else None


def yes(value: bool) -> str:
    return "Y" if value else "N"


def is_admin(user) -> bool:
    return bool(user.is_superuser or level(user, "settings") >= Level.ALL)


def _user(ctx) -> dict:
    user = ctx.user
    return {
        "ID": str(user.pk),
        "ACTIVE": user.is_active,
        "NAME": user.first_name or user.name,
        "LAST_NAME": user.last_name,
        "EMAIL": user.email,
        "TIME_ZONE": user.time_zone,
        "USER_TYPE": "employee",
    }


@method("user.current")
def user_current(ctx, params) -> Result:
    return Result(_user(ctx))


@method("profile")
def profile(ctx, params) -> Result:
    user = ctx.user
    offset = timezone.localtime(timezone.now(), ctx.tz).utcoffset()
    return Result(
        {
            "ID": str(user.pk),
            "ADMIN": is_admin(user),
            "NAME": user.first_name or user.name,
            "LAST_NAME": user.last_name,
            "PERSONAL_GENDER": "",
            "TIME_ZONE": user.time_zone,
            "TIME_ZONE_OFFSET": int(offset.total_seconds()) if offset else 0,
        }
    )


@method("server.time")
def server_time(ctx, params) -> Result:
    return Result(iso(timezone.now(), ctx.tz))
