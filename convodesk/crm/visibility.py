"""The one CRM visibility rule: every read or write of a CRM record asks
`<Model>.objects.visible_to(user, "view" | "edit")`, or `record_for` for one record.

A contact, company, lead, deal or activity is visible to a user for an action when
- the user may see (for "view") or act on (for "edit") one of its conversations, by
  `Conversation.objects.visible_to` itself (the conversation rule is not restated here), or
- its responsible employee is in the user's scope for the action's CRM level: own = the user,
  department = the employees of the user's departments and their sub-departments, all = anyone
  (and then every record, responsible or not).
The edit level "none" allows no edit at all. Integration users go through the same rule with
their roles. Hidden records answer exactly like missing ones: `record_for` raises `NotFound`
for both and `NotAllowed` when the record is visible but the action is not allowed, the same
exceptions the conversation services raise (HTML views turn them into 404/403, the API's
error handlers already do).

SQL shape: one WHERE per record with at most two EXISTS probes (the conversation link by the
(entity_type, entity_id) index, then the viewer's participant row by (conversation, employee)),
or-ed with `responsible_id IN (...)`; never a Python loop over records.
"""

from __future__ import annotations

from django.apps import apps
from django.db import models
from django.db.models import Exists, OuterRef, Q

from convodesk.accounts.access import level
from convodesk.accounts.models import Level
from convodesk.conversations.refusals import NotAllowed, NotFound
from convodesk.conversations.visibility import department_employee_ids, scope_for

ACTIONS = ("view", "edit")
# CRM action -> the role permission holding its level
ACTION_PERMISSION = {"view": "view_crm", "edit": "edit_crm"}
# CRM action -> the conversation action whose visibility grants it
CONVERSATION_ACTION = {"view": "view", "edit": "act"}

__all__ = [
    "ACTIONS",
    "CrmQuerySet",
    "can",
    "granted_by_level",
    "record_for",
    "visible_condition",
]

_ALL = True  # every row
_NOTHING = None  # no row


def _responsible_condition(user, action: str):
    lv = level(user, ACTION_PERMISSION[action])
    if lv >= Level.ALL:
        return _ALL
    if lv >= Level.DEPARTMENT:
        return Q(responsible_id__in=department_employee_ids(user))
    if lv >= Level.OWN:
        return Q(responsible_id=user.pk)
    return _NOTHING


def _conversation_condition(model, user, action: str):
    """Rows with a conversation `user` may see (view) or act on (edit)."""
    conversation_action = CONVERSATION_ACTION[action]
    kind, _ids = scope_for(user, conversation_action)
    if kind == "nothing":
        return _NOTHING
    conversation = apps.get_model("conversations", "Conversation")
    if model.entity_type == "activity":
        if kind == "all":
            return Q(conversation_id__isnull=False)
        seen = conversation.objects.visible_to(user, conversation_action)
        return Exists(seen.filter(pk=OuterRef("conversation_id")))
    links = apps.get_model("conversations", "ConversationCrmLink").objects.filter(
        entity_type=model.entity_type, entity_id=OuterRef("pk")
    )
    if kind != "all":
        seen = conversation.objects.visible_to(user, conversation_action)
        links = links.filter(Exists(seen.filter(pk=OuterRef("conversation_id"))))
    return Exists(links)


def visible_condition(model, user, action: str = "view"):
    """The WHERE condition of the rule for `model`'s rows: a Q/Exists, True for every row,
    or None for no row. Exported for reads that cannot start from the model's manager."""
    if action not in ACTIONS:
        raise ValueError(f"unknown CRM action {action!r}")
    if user is None or not user.is_authenticated or not user.is_active:
        return _NOTHING
    by_level = _responsible_condition(user, action)
    if by_level is _NOTHING:
        return _NOTHING  # edit level none: not even the records of one's own conversations
    if by_level is _ALL:
        return _ALL
    by_conversation = _conversation_condition(model, user, action)
    return by_level if by_conversation is _NOTHING else by_level | by_conversation


def granted_by_level(model, user, action: str = "view"):
    """The rule's part that reads the record's own row (its responsible employee in the user's
    scope), when the rule is that part OR the conversation probes: a Q. None when the rule has
    no such split (every row, no row, or the level part alone). Every row it selects is visible,
    so counting it first gives a lower bound of the visible rows off the (responsible, id)
    index; lists.list_count stops there once it passes the threshold."""
    if action not in ACTIONS:
        raise ValueError(f"unknown CRM action {action!r}")
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    by_level = _responsible_condition(user, action)
    if by_level is _ALL or by_level is _NOTHING:
        return None
    if _conversation_condition(model, user, action) is _NOTHING:
        return None
    return by_level


class CrmQuerySet(models.QuerySet):
    def visible_to(self, user, action: str = "view"):
        """The records `user` may see ("view") or change ("edit")."""
        condition = visible_condition(self.model, user, action)
        if condition is _NOTHING:
            return self.none()
        return self.all() if condition is _ALL else self.filter(condition)


def can(user, record, action: str = "view") -> bool:
    """The same rule for one record already loaded."""
    return type(record).objects.visible_to(user, action).filter(pk=record.pk).exists()


def record_for(user, model_or_queryset, pk: int, action: str = "view"):
    """The record if `user` may see it (else NotFound, as for a missing one) and may do `action`
    on it (else NotAllowed). Pass a queryset (e.g. `select_for_update()`) to read through it."""
    # Imported here: crm.models loads this module before the services can be imported.

    queryset = (
        model_or_queryset
        if isinstance(model_or_queryset, models.QuerySet)
        else model_or_queryset.objects.all()
    )
    record = queryset.visible_to(user, "view").filter(pk=pk).first()
    if record is None:
        raise NotFound(pk)
    if action != "view" and not can(user, record, action):
        raise NotAllowed()
    return record
