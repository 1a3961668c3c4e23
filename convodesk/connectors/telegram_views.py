import hmac
import json
import logging

from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from convodesk.lines.models import Connection

from . import skipped, telegram

log = logging.getLogger("convodesk.telegram")
MAX_BODY = 1_000_000


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


@csrf_exempt
@require_POST
def webhook(request, connection_id: int):
    connection = (
        Connection.objects.select_related("line")
        .filter(pk=connection_id, kind=Connection.Kind.TELEGRAM, active=True)
        .first()
    )
    # A missing (or inactive, or not-Telegram) connection answers exactly like a wrong secret:
    # nobody learns from the answer which connection ids exist.
    expected = telegram.webhook_secret(connection) if connection is not None else ""
    given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        log.warning(
            "telegram %s: webhook call for an unknown connection or with a wrong secret",
            connection_id,
        )
        return _error(403, "forbidden", _("Unknown connection or wrong secret token."))
    if len(request.body) > MAX_BODY:
        return _error(413, "too_large", _("The update is too large."))
    try:
        update = json.loads(request.body)
    except (ValueError, RecursionError) as exc:
        log.warning("telegram %s: unreadable update: %s", connection_id, exc)
        return _error(400, "bad_update", _("Not a Telegram update: the body is not JSON."))
    try:
        telegram.handle_update(connection, update)
    except telegram.BadUpdate as exc:
        log.warning("telegram %s: malformed update: %s", connection_id, exc)
        return _error(400, "bad_update", _("Not a Telegram update: %(reason)s") % {"reason": exc})
    except Exception as exc:
        if not skipped.is_message_fault(exc):
            raise  # the database is away: a 5xx makes Telegram deliver the update again later
        # Telegram would retry a failing update for hours and hold back the later ones: record
        # it for an administrator, answer 200, and let the chat go on.
        skipped.record(connection, telegram.external_id_of(update), exc, request.body)
        return JsonResponse({"ok": True, "skipped": True})
    return JsonResponse({"ok": True})
