"""Reply-time targets (SLA) outside the state machine: who hears of a breach, and the mail.

The lifecycle keeps each wait's due instant (`due_at`); the timers record a breach once
(`lifecycle.Breach`, event "sla_breached"); after commit `hooks.mail_breaches` calls
`mail_breach` for each, which e-mails the open channel's supervisors when the open channel asks
for it and the installation sends mail. Nothing here writes to the database.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.utils import translation
from django.utils.translation import gettext as _

from convodesk import links
from convodesk.accounts.models import Department
from convodesk.accounts.services import supervisors

from .models import Conversation

log = logging.getLogger("convodesk.sla")


def supervisors_of(line) -> list:
    """The supervisors of the departments the open channel's members belong to (see
    `accounts.services.supervisors`), each once."""
    departments = Department.objects.filter(employees__lines=line).values_list("pk", flat=True)
    people = {}
    for found in supervisors(set(departments)).values():
        for user in found:
            people[user.pk] = user
    return sorted(people.values(), key=lambda u: u.pk)


def mail_breach(conversation_id: int) -> int:
    """E-mail the open channel's supervisors that a conversation missed its reply-time target;
    returns how many mails went out. Nothing when mail is off or the channel does not ask."""
    if not settings.CONVODESK.get("SYSTEM_MAIL"):
        return 0
    conv = Conversation.objects.select_related("line", "client").filter(pk=conversation_id).first()
    if conv is None or not conv.line.sla_mail:
        return 0
    sent = 0
    for user in supervisors_of(conv.line):
        if not user.email:
            continue
        with translation.override(user.language or settings.LANGUAGE_CODE):
            subject = _("Conversation #%(id)s missed its reply-time target") % {"id": conv.pk}
            body = _(
                "The client %(client)s on the open channel %(line)s has waited past the "
                "reply-time target.\n\n%(url)s"
            ) % {
                "client": conv.client.name,
                "line": conv.line.name,
                "url": settings.CONVODESK.get("PUBLIC_URL", "").rstrip("/")
                + links.id_path("conversations:history", conv.pk),
            }
        try:
            send_mail(subject, body, None, [user.email])
            sent += 1
        except Exception:  # noqa: BLE001 - a mail server down must not undo a recorded breach
            log.exception("could not mail the breach of conversation %s", conv.pk)
    return sent
