"""Files a client sent through a channel the product reads itself (e-mail parts, Telegram files),
served by the product to whoever may see the conversation's history, and to nobody else."""

from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from convodesk.connectors import telegram

from .. import attachments
from ..models import Conversation, Message

log = logging.getLogger("convodesk.conversations.files")


@login_required
@require_GET
def message_attachment(request, pk: int, message_id: int, index: int):
    conv = Conversation.objects.visible_to(request.user, "history").filter(pk=pk).first()
    if conv is None:
        raise Http404
    message = (
        Message.objects.select_related("connection")
        .filter(conversation=conv, pk=message_id)
        .first()
    )
    if message is None:
        raise Http404
    try:
        message = telegram.fetch_on_opening(message, index)
        content, filename = attachments.open_file(message, index)
    except attachments.NotServable:
        raise Http404 from None
    except attachments.FetchFailed as exc:
        log.warning("conversation %s: attachment %s/%s: %s", pk, message_id, index, exc)
        response = HttpResponse(
            _("The file could not be fetched from the channel: %(reason)s") % {"reason": exc},
            status=502,
            content_type="text/plain; charset=utf-8",
        )
        return response
    response = attachments.download(content, filename)
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
