"""The one visibility rule: every read path asks `Conversation.objects.visible_to(user, action)`."""

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import Exists, OuterRef, Q

from convodesk.accounts.access import department_subtree, level
from convodesk.accounts.models import Level
from convodesk.conversations.refusals import NotAllowed, NotFound

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


def forget_departments(user) -> None:
    """Drop the cached department employees (a long-lived socket re-reads them, as it re-reads
    the levels: the employee may have moved to another department)."""
    if hasattr(user, "_convodesk_department_ids"):  # through a lazy user too
        del user._convodesk_department_ids


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
    # Members of an open channel always see what is offered to them in its queue, and keep
    # the one they took from it while they hold it (they must be able to answer and close it).
    return "offered", {user.pk}


def _grants(kind: str, ids) -> Q:
    """The participant rows that let `ids` see a conversation at this scope."""
    if kind == "offered":
        return Q(employee_id__in=ids) & (Q(offered_now=True) | Q(is_responsible=True))
    return Q(employee_id__in=ids, sees=True)


def visible_among(scopes: dict, conversation_ids) -> dict:
    """{key: the ones of `conversation_ids` that scope may see} for many viewers at once, each
    given as `scope_for(user, action)`: one read of the granting participant rows per kind of
    scope, the same rows `visible_to` asks about. The live feed of a web process asks this for
    all its operators' sockets at every batch of events; a query per socket (EXISTS for each
    conversation) cost PostgreSQL 13 ms a batch for 25 sockets."""
    ids = list(conversation_ids)
    result: dict = {key: set() for key in scopes}
    by_kind: dict[str, list] = {}
    for key, (kind, employees) in scopes.items():
        if kind == "all":
            result[key] = set(ids)
        elif kind != "nothing" and ids:
            by_kind.setdefault(kind, []).append((key, employees))
    participant = apps.get_model("conversations", "ConversationParticipant")
    for kind, members in by_kind.items():
        everyone = set().union(*(employees for _key, employees in members))
        granted: dict[int, set[int]] = {}
        rows = participant.objects.filter(_grants(kind, everyone), conversation_id__in=ids)
        for conversation_id, employee_id in rows.values_list("conversation_id", "employee_id"):
            granted.setdefault(employee_id, set()).add(conversation_id)
        for key, employees in members:
            result[key] = set().union(*(granted.get(e, ()) for e in employees))
    return result


class ConversationQuerySet(models.QuerySet):
    def visible_to(self, user, action: str = "view", shape: str = "probe"):
        """The conversations `user` may see for `action`; one rule, two SQL shapes of it.

        shape="probe" (EXISTS per conversation) suits reads that something else drives: a page
        walked in index order, one conversation by id. shape="set" (id IN the viewer's
        participant rows) suits reads over everything visible: counts and aggregates, which
        would otherwise probe every conversation of the table (1.6 s against 16 ms for an
        operator's count at 1,000,000 conversations on SQLite). A viewer who sees through several
        employees has a third shape, for pages and counts: `merged_walk` below.
        """
        kind, ids = scope_for(user, action)
        if kind in ("all", "nothing"):
            return self if kind == "all" else self.none()
        participant = apps.get_model("conversations", "ConversationParticipant")
        grants = participant.objects.filter(_grants(kind, ids))
        if shape == "set":
            return self.filter(pk__in=grants.values("conversation_id"))
        return self.filter(Exists(grants.filter(conversation=OuterRef("pk"))))


def granting_rows(user, action: str = "view"):
    """(rows, one_each): the participant rows through which `user` sees conversations, and
    whether each conversation has at most one of them (a viewer who sees only their own);
    (None, False) at level all and for nobody.

    Reads that concern every visible conversation of a period and nothing else (the list's
    total and tab counts without a filter) are answered from these rows: they carry
    `started_at`, and the partial index (employee, started_at desc, conversation desc) holds
    them in list order. At 10,000,000 conversations on PostgreSQL an operator's count went from
    5.5 s (joining 90,000 conversations) to an index-only count of their rows.
    """
    kind, ids = scope_for(user, action)
    if kind in ("all", "nothing"):
        return None, False
    participant = apps.get_model("conversations", "ConversationParticipant")
    return participant.objects.filter(_grants(kind, ids)), len(ids) == 1


def withheld_rows(user, action: str = "view"):
    """The participant rows of the employees through whom `user` sees that grant nothing: an
    offer that ended without the employee taking, answering or joining (`sees` is false). A
    conversation with only such rows of theirs is hidden from `user`, though its offer still
    counts in the employee's own figures (stats.Participation). None unless `user` sees through
    employees' rows (the complement of `_grants` for that kind)."""
    kind, ids = scope_for(user, action)
    if kind != "employees":
        return None
    participant = apps.get_model("conversations", "ConversationParticipant")
    return participant.objects.filter(employee_id__in=ids, sees=False)


def merged_walk(user, action: str = "view", flt=None):
    """The third SQL shape of `visible_to`, for a viewer who sees through employees' participant
    rows (a department supervisor; an employee at level "own", through their own): each
    employee's granting rows walked newest first along `participant_own` and merged
    (paging.MergedWalk); None where it does not apply. For one employee the walk is their own
    index range, where SQLite otherwise probed the participant rows of every conversation newest
    first until it had found a page of theirs (BENCHMARKS.md, stop 38).

    It applies without conversation-level conditions and to the sorts the participant rows carry
    (started_at, either way). With a filter the list keeps the probe: the filter's own index
    (status, line, channel, responsible with started_at) finds the page without the walk, which
    would have to read the department's rows until enough of them pass the filter (measured:
    joining the walk to the conversations lost on page 1 for every filter tried, BENCHMARKS.md
    "Issue 23 item 1").
    """
    kind, ids = scope_for(user, action)
    if kind != "employees" or not ids:
        return None
    if flt is not None and (flt.conditions or flt.sort_key != "started_at"):
        return None
    from convodesk.conversations.paging import MergedWalk

    participant = apps.get_model("conversations", "ConversationParticipant")
    cache = user.__dict__.setdefault("_convodesk_walk_arms", {})  # a request asks up to 3 times
    arms = cache.get(action)
    if arms is None:
        arms = cache[action] = [
            participant.objects.filter(_grants(kind, [pk]))
            .values_list("started_at", "conversation_id")
            .query.sql_with_params()
            for pk in sorted(ids)
        ]
    rows = participant.objects.filter(_grants(kind, ids))
    return MergedWalk(arms, rows, descending=flt.sort_descending if flt is not None else True)


def countable(user, flt, action: str = "view"):
    """What the list and the API count for `user` under filter `flt`: the filtered visible set,
    or, without a filter, the participant rows of a viewer who sees only their own, or the
    merged walk of a viewer who sees through several employees (bounded_count reads both)."""
    rows, one_each = granting_rows(user, action)
    if rows is not None and one_each and not flt.conditions:
        return rows
    if not flt.conditions:
        walk = merged_walk(user, action)
        if walk is not None:
            return walk
    conversation = apps.get_model("conversations", "Conversation")
    return flt.filter(conversation.objects.visible_to(user, action, shape="set"))


def can(user, conversation_id: int, action: str = "view") -> bool:
    """The same rule as `visible_to`, for one conversation, without scanning the table."""
    kind, ids = scope_for(user, action)
    if kind in ("all", "nothing"):
        return kind == "all"
    participant = apps.get_model("conversations", "ConversationParticipant")
    return participant.objects.filter(_grants(kind, ids), conversation_id=conversation_id).exists()


def access(user, pk: int, action: str = "view", queryset=None):
    """The one "may this user do `action` on conversation `pk`" check of views, API and CRM.

    Returns the conversation (read through `queryset` when given, e.g. with select_related)
    if `user` may see it; raises NotFound when it is hidden or missing (the same answer, so a
    hidden conversation cannot be told from a missing one) and NotAllowed when it is visible
    but `action` is not allowed. Views answer them 404/403, the API's error handlers too.
    """

    if queryset is None:
        queryset = apps.get_model("conversations", "Conversation").objects.all()
    conversation = queryset.visible_to(user, "view").filter(pk=pk).first()
    if conversation is None:
        raise NotFound(pk)
    if action == "view" or scope_for(user, action) == scope_for(user, "view"):
        return conversation  # the same rule as for seeing it, which it just passed
    if not can(user, pk, action):
        raise NotAllowed()
    return conversation
