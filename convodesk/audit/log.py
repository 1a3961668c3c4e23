"""The one place settings changes are recorded. The services that write settings (connections,
open channels, employees, roles) call `record()` inside their own transaction, so a change and
its entry commit together; what is recorded is plain JSON with every secret masked."""

from __future__ import annotations

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from convodesk.crypto import is_secret_key, mask_secrets

from .models import AuditEntry


def snapshot(instance: models.Model, fields=None) -> dict:
    """A model's concrete field values as JSON-safe data (foreign keys as ids), secrets masked."""
    data = {}
    for field in instance._meta.concrete_fields:
        if fields is not None and field.name not in fields:
            continue
        if is_secret_key(field.name) or field.name.endswith("_encrypted"):
            continue  # never recorded, not even masked
        data[field.attname] = field.value_from_object(instance)
    return mask_secrets(json.loads(json.dumps(data, cls=DjangoJSONEncoder)))


def record(actor, action: str, instance: models.Model, before=None, after=None) -> AuditEntry:
    return AuditEntry.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        object_type=instance._meta.model_name,
        object_id=str(instance.pk or ""),
        object_repr=str(instance)[:200],
        before=mask_secrets(before or {}),
        after=mask_secrets(after or {}),
    )
