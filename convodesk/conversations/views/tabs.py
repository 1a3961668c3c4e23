"""Preset tabs (built-in and saved) and their counts, all tabs counted in two queries.

The counts aggregate over the viewer's latest TAB_COUNT_THRESHOLD visible conversations with one
conditional COUNT per tab (`Count(filter=...)`), so adding a preset never adds a query. Each
tab's condition comes from the one filter set (ConversationFilter), never a second definition.
When the viewer sees more conversations than the threshold, the counts are lower bounds and are
shown as "N+".
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from operator import and_

from django.conf import settings
from django.db.models import Count, Q
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from convodesk import display, links

from ..filters import ConversationFilter
from ..models import Conversation, FilterPreset
from .params import encode, filter_only, normalize


def list_path() -> str:
    """The conversation list's address (the tabs, presets and redirects add a query to it)."""
    return links.path("conversations:list")


@dataclass
class Tab:
    key: str
    label: str
    params: dict
    preset: FilterPreset | None = None
    count: int | None = None
    exact: bool = True
    active: bool = False

    @property
    def query(self) -> str:
        return encode(self.params) or "view=all"

    @property
    def count_label(self) -> str:
        if self.count is None:
            return ""
        return display.number(self.count) + ("" if self.exact else "+")


def builtin_tabs(user) -> list[Tab]:
    today = timezone.localdate().isoformat()
    return [
        Tab("all", _("All"), {}),
        Tab("mine", _("Mine"), {"responsible": str(user.pk)}),
        Tab("waiting", _("Waiting for answer"), {"status": "waiting"}),
        Tab("overdue", _("Overdue"), {"overdue": "true"}),
        Tab(
            "closed_today",
            _("Closed today"),
            {"status": "closed", "closed_from": today, "closed_to": today},
        ),
    ]


def visible_presets(user):
    """The user's own presets and everyone's shared ones; rows still go through visible_to."""
    return (
        FilterPreset.objects.filter(Q(owner=user) | Q(shared=True))
        .select_related("owner")
        .order_by("name", "id")
    )


def preset_params(preset: FilterPreset) -> dict:
    return filter_only(normalize(QueryDict(preset.query)))


def all_tabs(user, presets) -> list[Tab]:
    tabs = builtin_tabs(user)
    for preset in presets:
        tabs.append(Tab(f"p{preset.pk}", preset.name, preset_params(preset), preset=preset))
    return tabs


def count_tabs(base, tabs: list[Tab], granting=(None, False), walk=None) -> None:
    """Count every tab over the viewer's latest `threshold + 1` visible conversations.

    Two statements: the edge of that window (the (started_at, id) of its oldest row), then one
    aggregate with a conditional COUNT per tab over the window. A range keeps both engines on
    the `started_at` index (an `id IN (newest N)` semi-join let PostgreSQL hash-join the whole
    table). `granting` (visibility.granting_rows) lets a viewer below level all read the edge
    (when each conversation has one of their rows) and the window from their participant rows;
    a viewer who sees through several employees reads the edge off their merged walk
    (visibility.merged_walk), the same walk as their list's pages and total.
    """
    threshold = settings.CONVODESK.get("TAB_COUNT_THRESHOLD", 10000)
    aggregates = {}
    for index, tab in enumerate(tabs):
        flt = ConversationFilter(tab.params)
        if not flt.is_valid():
            continue
        if flt.conditions:
            aggregates[f"t{index}"] = Count("pk", filter=reduce(and_, flt.conditions))
        else:
            aggregates[f"t{index}"] = Count("pk")
    if not aggregates:
        return
    rows, one_each = granting
    if walk is not None:
        newest = None
        edge = next(iter(walk.keys(limit=1, offset=threshold)), None)
    elif rows is not None and one_each:
        newest = rows.order_by("-started_at", "-conversation_id").values_list(
            "started_at", "conversation_id"
        )
    else:
        newest = base.order_by("-started_at", "-id").values_list("started_at", "id")
    if newest is not None:
        edge = next(iter(newest[threshold : threshold + 1]), None)
    window = base
    if edge is not None:
        started_at, pk = edge
        if rows is not None:
            in_window = rows.filter(_from_edge(started_at, "conversation_id", pk))
            window = Conversation.objects.filter(pk__in=in_window.values("conversation_id"))
        window = window.filter(_from_edge(started_at, "id", pk))
    values = window.order_by().aggregate(**aggregates)
    exact = edge is None
    for index, tab in enumerate(tabs):
        if f"t{index}" in values:
            tab.count = values[f"t{index}"]
            tab.exact = exact


def _from_edge(started_at, id_field: str, pk) -> Q:
    """(started_at, id) at or after the edge, newest first, with the range said on its own:
    `started_at >= edge` is where both engines start an index walk; the OR alone made SQLite
    read every participant row of a department supervisor's employees (the tab counts at
    1,000,000 conversations: 26 ms -> 11 ms)."""
    tie = Q(started_at=started_at, **{f"{id_field}__gte": pk})
    return Q(started_at__gte=started_at) & (Q(started_at__gt=started_at) | tie)
