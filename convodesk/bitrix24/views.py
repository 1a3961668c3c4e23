"""`/rest/{user_id}/{code}/{method}.json`: the seed product's incoming-webhook endpoint.

The code in the path is a webhook code made in the settings (stored hashed); the request then
acts as its employee. `batch` runs up to 50 commands, each answered in its own section, with
`$result[cmd][…]` references to earlier answers. Never a redirect: every path under /rest/
answers JSON here (an unknown one ERROR_METHOD_NOT_FOUND, a wrong code 401).
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import re
import time
import zoneinfo

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from convodesk import crypto
from convodesk.conversations import services
from convodesk.conversations.lifecycle import IllegalTransition
from convodesk.conversations.normalize import parse_id
from convodesk.fielderrors import FieldErrors

from . import registry
from .models import WebhookCode
from .transport import (
    PAGE_SIZE,
    B24Error,
    Result,
    check_rate,
    not_found_method,
    parse_query,
    read_params,
    respond,
    time_object,
)

log = logging.getLogger("convodesk.bitrix24")

MAX_BATCH = 50
LAST_USED_GRANULARITY = dt.timedelta(minutes=5)
_METHOD_RE = re.compile(r"^[A-Za-z0-9_.]{1,100}$")


def _no_auth():
    return B24Error("NO_AUTH_FOUND", _("Wrong authorization data"), 401)


def authenticate(user_id: str, code: str) -> WebhookCode:
    """The active code of this employee; a missing, wrong or revoked one answers alike."""
    if parse_id(user_id) is None or not code or len(code) > 200:
        raise _no_auth()
    row = (
        WebhookCode.objects.active()
        .select_related("user")
        .filter(code_hash=crypto.hash_token(code))
        .first()
    )
    if row is None or not hmac.compare_digest(str(row.user_id), user_id):
        raise B24Error("INVALID_CREDENTIALS", _("Invalid request credentials"), 401)
    now = timezone.now()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_GRANULARITY:
        WebhookCode.objects.filter(pk=row.pk).update(last_used_at=now)
    return row


def _zone(user):
    try:
        return zoneinfo.ZoneInfo(user.time_zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def run(ctx: registry.Context, name: str, params: dict) -> Result:
    """One method, its service errors turned into the seed product's."""
    if not isinstance(name, str) or not _METHOD_RE.match(name):
        raise not_found_method()
    func = registry.find(name)
    if func is None:
        raise not_found_method()
    try:
        with transaction.atomic():  # a refused method leaves nothing written
            return func(ctx, params)
    except services.NotAllowed as exc:
        raise B24Error("ACCESS_DENIED", exc.message, 403) from None
    except services.LineInactive as exc:
        raise B24Error("NOT_ACTIVE_LINE", exc.message, 400) from None
    except IllegalTransition as exc:
        raise B24Error(exc.code.upper(), exc.message, 400) from None
    except FieldErrors as exc:
        raise B24Error("INVALID_ARG_VALUE", " ".join(str(m) for m in exc.errors.values())) from None


def _answer(result: Result, started: float, tz) -> dict:
    body = {"result": result.result}
    if result.next is not None:
        body["next"] = result.next
    if result.total is not None:
        body["total"] = result.total
    body.update(result.extra)
    body["time"] = time_object(started, time.time(), tz=tz)
    return body


@csrf_exempt
def endpoint(request, user_id: str, code: str, method: str):
    started = time.time()
    tz = dt.UTC
    try:
        if request.method not in ("GET", "POST"):
            raise B24Error("ERROR_METHOD_NOT_FOUND", _("Method not found!"), 405)
        webhook = authenticate(user_id, code)
        tz = _zone(webhook.user)
        check_rate(f"code:{webhook.pk}")
        name = method[:-5] if method.lower().endswith(".json") else method
        params = read_params(request)
        ctx = registry.Context(user=webhook.user, request=request, tz=tz)
        if name.lower() == "batch":
            result = batch(ctx, params)
        else:
            result = run(ctx, name, params)
        return respond(_answer(result, started, tz))
    except B24Error as exc:
        return respond(exc.body(), exc.status)
    except services.NotFound:
        error = B24Error("NOT_FOUND", _("Not found"), 400)
        return respond(error.body(), error.status)
    except Exception:  # noqa: BLE001 - an integration gets the seed product's shape, never HTML
        log.exception("bitrix24 %s failed", method)
        error = B24Error("INTERNAL_SERVER_ERROR", _("Internal server error"), 500)
        return respond(error.body(), error.status)


@csrf_exempt
def unknown(request, rest: str = ""):
    """Any other path under /rest/: JSON, never a redirect or an HTML page."""
    error = _no_auth() if rest.count("/") < 2 else not_found_method()
    return respond(error.body(), error.status)


# batch ------------------------------------------------------------------------------------

_REF_RE = re.compile(r"\$result\[([^\[\]]+)\]((?:\[[^\[\]]*\])*)")


def _lookup(results: dict, key: str, path: str):
    value = results.get(key)
    for part in re.findall(r"\[([^\[\]]*)\]", path):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return ""
    return value


def _substitute(value, results: dict):
    """`$result[cmd][0][ID]` in a command's parameter: the earlier command's answer there."""
    if isinstance(value, str):
        whole = _REF_RE.fullmatch(value)
        if whole:
            found = _lookup(results, whole.group(1), whole.group(2))
            return found if not isinstance(found, bool) else ("1" if found else "")

        def one(match):
            found = _lookup(results, match.group(1), match.group(2))
            return "" if isinstance(found, (dict, list)) else str(found)

        return _REF_RE.sub(one, value)
    if isinstance(value, dict):
        return {k: _substitute(v, results) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, results) for v in value]
    return value


def _truthy(value) -> bool:
    return value in (True, 1, "1", "true", "True", "Y", "y")


def batch(ctx: registry.Context, params: dict) -> Result:
    commands = params.get("cmd")
    if isinstance(commands, list):
        commands = {str(i): c for i, c in enumerate(commands)}
    if not isinstance(commands, dict) or not commands:
        raise B24Error("INVALID_ARG_VALUE", _("The cmd parameter must list the commands."))
    if len(commands) > MAX_BATCH:
        raise B24Error(
            "INVALID_ARG_VALUE", _("A batch runs at most %(n)s commands.") % {"n": MAX_BATCH}
        )
    halt = _truthy(params.get("halt"))
    results, errors, totals, nexts, times = {}, {}, {}, {}, {}
    for key, command in commands.items():
        started = time.time()
        if not isinstance(command, str):
            errors[key] = B24Error("INVALID_ARG_VALUE", _("A command is a text.")).body()
        else:
            name, _sep, query = command.partition("?")
            try:
                if name.strip().lower() == "batch":
                    raise B24Error("INVALID_ARG_VALUE", _("A batch cannot run a batch."))
                sub = _substitute(parse_query(query), results)
                outcome = run(ctx, name.strip(), sub)
            except B24Error as exc:
                errors[key] = exc.body()
            except services.NotFound:
                errors[key] = B24Error("NOT_FOUND", _("Not found")).body()
            else:
                results[key] = outcome.result
                if outcome.total is not None:
                    totals[key] = outcome.total
                if outcome.next is not None:
                    nexts[key] = outcome.next
        times[key] = time_object(started, time.time(), tz=ctx.tz)
        if halt and key in errors:
            break
    return Result(
        {
            "result": results or [],
            "result_error": errors or [],
            "result_total": totals or [],
            "result_next": nexts or [],
            "result_time": times or [],
        }
    )


__all__ = ["PAGE_SIZE", "batch", "endpoint", "run", "unknown"]
