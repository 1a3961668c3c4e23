"""The one writer of API tokens from the settings: issue (the value is shown once) and revoke,
both recorded in the audit log (never the token's value or hash)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from convodesk.audit import log as audit

from .models import ApiToken

FIELDS = {"user", "name", "prefix", "created_at", "revoked_at"}


def _state(token: ApiToken) -> dict:
    return audit.snapshot(token, fields=FIELDS)


def issue(actor, owner, name: str = "") -> tuple[ApiToken, str]:
    with transaction.atomic():
        token, plain = ApiToken.issue(owner, (name or "").strip())
        audit.record(actor, "create", token, after=_state(token))
    return token, plain


def revoke(actor, token: ApiToken) -> bool:
    """Revoke once; False if it already was. A superuser's token is revoked only by a superuser
    (or by its owner): a settings administrator may not cut the installation's owner off."""
    owner = token.user
    if owner.is_superuser and not getattr(actor, "is_superuser", False) and actor != owner:
        raise PermissionDenied(_("Only a superuser may revoke a superuser's token."))
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is not None:
            return False
        before = _state(token)
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record(actor, "deactivate", token, before=before, after=_state(token))
    return True
