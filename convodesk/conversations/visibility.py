"""The one visibility rule: every read path asks `Conversation.objects.visible_to(user, action)`."""

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import Exists, OuterRef

from convodesk.accounts.access import department_subtree, level
from convodesk.accounts.models import Level

ACTION_PERMISSION = {
    "view": "view_conversations",
    "export": "view_conversations",
    "history": "view_history",
    "stats": "view_statistics",
    "act": "act",
    "rate": "rate",
}


def department_employee_ids(user) -> set[int]:
    """The user and every employee of the user's departments and their sub-departments."""
    cached = getattr(user, "_convodesk_department_ids", None)
    if cached is not None:
        return cached
    departments = department_subtree(user.departments.values_list("id", flat=True))
    ids = set(
        get_user_model().objects.filter(departments__in=departments).values_list("id", flat=True)
    )
    ids.add(user.pk)
    user._convodesk_department_ids = ids
    return ids


def scope_for(user, action: str = "view"):
    """("all", None), ("employees", ids) meaning the "own" sets of those ids, or ("offered", {id})."""
    if user is None or not user.is_authenticated or not user.is_active:
        return "nothing", None
    lv = level(user, ACTION_PERMISSION[action])
    if lv >= Level.ALL:
        return "all", None
    if lv >= Level.DEPARTMENT:
        return "employees", department_employee_ids(user)
    if lv >= Level.OWN:
        return "employees", {user.pk}
    if action == "rate":
        return "nothing", None  # rating is a supervisor's permission, never implied by an offer
    # Members of an open channel always see what is offered to them in its queue.
    return "offered", {user.pk}


class ConversationQuerySet(models.QuerySet):
    def visible_to(self, user, action: str = "view"):
        kind, ids = scope_for(user, action)
        if kind == "all":
            return self
        if kind == "nothing":
            return self.none()
        participant = apps.get_model("conversations", "ConversationParticipant")
        rows = participant.objects.filter(conversation=OuterRef("pk"))
        if kind == "offered":
            rows = rows.filter(employee_id__in=ids, offered_now=True)
        else:
            rows = rows.filter(employee_id__in=ids, sees=True)
        return self.filter(Exists(rows))


def can(user, conversation_id: int, action: str = "view") -> bool:
    """The same rule as `visible_to`, for one conversation, without scanning the table."""
    kind, ids = scope_for(user, action)
    if kind in ("all", "nothing"):
        return kind == "all"
    participant = apps.get_model("conversations", "ConversationParticipant")
    rows = participant.objects.filter(conversation_id=conversation_id, employee_id__in=ids)
    rows = rows.filter(offered_now=True) if kind == "offered" else rows.filter(sees=True)
    return rows.exists()
