"""Ending an employee's access the moment they are deactivated (issue 15, item 9).

Django already refuses an inactive user on their next request, but an open operator socket
keeps streaming, a reactivated employee would find their old sessions and API tokens alive
again, and a stolen session would come back with them. So deactivation ends all of it at once:
every log-in session is deleted, every API token revoked, and every open socket of theirs is
told to close (through the channel layer, so it reaches every web process with Redis).

`end_access` runs inside the transaction of any save that leaves the employee inactive (the
admin, the API, a shell; see `signals.py`); the sockets are told once it commits, so a socket
that reconnects meanwhile finds the employee inactive.
"""

from __future__ import annotations

import datetime as dt
import logging
from importlib import import_module

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.utils import timezone

log = logging.getLogger("convodesk.accounts")

FORCE_CLOSE = "user.force_close"
CLOSE_CODE = 4401  # the same code a socket without a valid log-in gets


def user_group(user_id: int) -> str:
    """Every authenticated socket of one employee joins this group."""
    return f"user-{user_id}"


def remember_session(user, session_key: str | None) -> None:
    from convodesk.api.models import LoginSession

    if not session_key or user is None or user.pk is None:
        return
    LoginSession.objects.update_or_create(session_key=session_key, defaults={"user": user})
    # Sessions that expired on their own leave rows behind; drop the old ones of this user.
    stale = timezone.now() - dt.timedelta(seconds=settings.SESSION_COOKIE_AGE)
    LoginSession.objects.filter(user=user, created_at__lt=stale).delete()


def forget_session(session_key: str | None) -> None:
    from convodesk.api.models import LoginSession

    if session_key:
        LoginSession.objects.filter(session_key=session_key).delete()


def end_access(user) -> dict[str, int]:
    """Delete the employee's sessions, revoke their API tokens, close their sockets (on commit)."""
    from convodesk.api.models import ApiToken, LoginSession

    store = import_module(settings.SESSION_ENGINE).SessionStore
    keys = list(LoginSession.objects.filter(user=user).values_list("session_key", flat=True))
    for key in keys:
        store(session_key=key).delete()
    LoginSession.objects.filter(user=user).delete()
    tokens = ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    user_id = user.pk
    transaction.on_commit(lambda: close_sockets(user_id))
    return {"sessions": len(keys), "tokens": tokens}


def close_sockets(user_id: int) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(user_group(user_id), {"type": FORCE_CLOSE})
    except Exception:  # sockets re-check the user on reconnect; the sessions are gone anyway
        log.warning("could not close the sockets of user %s", user_id, exc_info=True)
