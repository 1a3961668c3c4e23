"""Invitations: a new employee chooses their own password from a link, instead of the
administrator choosing it for them.

The link carries Django's password-reset token (`default_token_generator`), so it works once: it
stops working when the password is set, and after PASSWORD_RESET_TIMEOUT. With system mail
configured (EMAIL_HOST) it is sent to the employee, in their language; without, the settings
screen shows it once for the administrator to pass on.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from convodesk.audit import log as audit
from convodesk.fielderrors import FieldErrors

from .models import User


class CannotInvite(FieldErrors):
    """`errors` maps the field ("email", "active") to why no invitation can go out."""


def mail_configured() -> bool:
    return bool(settings.CONVODESK.get("SYSTEM_MAIL"))


def link(user: User, base_url: str) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return base_url.rstrip("/") + reverse("invitation", args=[uid, token])


def invite(actor, user: User, base_url: str) -> str | None:
    """Send `user` their link; returns the link instead when this installation sends no mail.
    Refused for an integration account, an inactive employee, an employee without an e-mail
    address (when mail is sent), and a superuser unless `actor` is one."""
    if user.is_superuser and not getattr(actor, "is_superuser", False):
        raise PermissionDenied(_("Only a superuser may change a superuser."))
    if user.is_integration:
        raise CannotInvite({"active": _("An integration account acts through API tokens only.")})
    if not user.is_active:
        raise CannotInvite({"active": _("Reactivate the employee before inviting them.")})
    if mail_configured() and not user.email:
        raise CannotInvite({"email": _("Enter the e-mail address the invitation goes to.")})
    url = link(user, base_url)
    with transaction.atomic():
        audit.record(
            actor,
            "update",
            user,
            before={"invitation": ""},
            after={"invitation": f"sent to {user.email}" if mail_configured() else "link shown"},
        )
    if not mail_configured():
        return url
    with translation.override(user.language or settings.LANGUAGE_CODE):
        context = {
            "user": user,
            "url": url,
            "inviter": getattr(actor, "name", "") or "",
            "days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
        }
        subject = render_to_string("accounts/invitation_subject.txt", context).strip()
        body = render_to_string("accounts/invitation_body.txt", context)
    send_mail(subject, body, None, [user.email])
    return None
