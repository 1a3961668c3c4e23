import hmac
import json
import logging

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from convodesk.lines.models import Connection

from . import telegram

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
    if connection is None:
        return _error(404, "not_found", "No active Telegram connection here.")
    given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
    if not hmac.compare_digest(given.encode(), telegram.webhook_secret(connection).encode()):
        log.warning("telegram %s: webhook call with a wrong secret token", connection_id)
        return _error(403, "forbidden", "Wrong secret token.")
    if len(request.body) > MAX_BODY:
        return _error(413, "too_large", "The update is too large.")
    try:
        update = json.loads(request.body)
        telegram.handle_update(connection, update)
    except (ValueError, telegram.BadUpdate) as exc:
        log.warning("telegram %s: malformed update: %s", connection_id, exc)
        return _error(400, "bad_update", f"Not a Telegram update: {exc}")
    return JsonResponse({"ok": True})
