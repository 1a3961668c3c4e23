"""One grid row: its cells from the column registry and the actions this viewer may take on it."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Prefetch
from django.utils.translation import gettext_lazy as _

from convodesk.accounts.access import level
from convodesk.accounts.models import Level

from .. import lifecycle
from ..columns import COLUMNS, CRM_LABELS, crm_url, related_for
from ..models import Conversation, ConversationCrmLink
from ..visibility import ACTION_PERMISSION, scope_for


@dataclass
class Row:
    conv: Conversation
    cells: list
    can_history: bool = False
    can_act: bool = False
    can_rate: bool = False
    crm_links: list = field(default_factory=list)
    end_label_text: str = ""

    @property
    def pk(self):
        return self.conv.pk

    @property
    def is_open(self) -> bool:
        return self.conv.status < lifecycle.Status.CLOSING

    @property
    def selectable(self) -> bool:
        return self.is_open

    @property
    def can_end(self) -> bool:
        return self.can_act and self.is_open

    def end_label(self, user) -> str:
        if self.conv.responsible_id is None:
            return _("Take and end")
        if self.conv.responsible_id == user.pk:
            return _("End")
        return _("End for the current employee")

    @property
    def activity_url(self) -> str:
        return f"/crm/activities/{self.conv.crm_activity_id}/" if self.conv.crm_activity_id else ""


def allowed_ids(user, action: str, ids) -> set:
    """Which of these ids the user may take `action` on: one query, or none when the level is all."""
    if not ids:
        return set()
    if action == "rate" and level(user, "rate") < Level.DEPARTMENT:
        return set()
    # Every row on the page is visible to the viewer; a level at least as wide as the viewing
    # level (and at least "own") therefore covers all of them, with no query.
    wanted = level(user, ACTION_PERMISSION[action])
    if wanted >= Level.OWN and wanted >= level(user, ACTION_PERMISSION["view"]):
        return set(ids)
    kind, _ids = scope_for(user, action)
    if kind == "all":
        return set(ids)
    if kind == "nothing":
        return set()
    return set(
        Conversation.objects.visible_to(user, action)
        .filter(pk__in=ids)
        .values_list("pk", flat=True)
    )


def crm_entries(conv) -> list[tuple[str, str]]:
    links = getattr(conv, "prefetched_crm_links", None)
    if links:
        pairs = [(link.entity_type, link.entity_id, link.title) for link in links]
    elif conv.crm_entity_type and conv.crm_entity_id:
        pairs = [(conv.crm_entity_type, conv.crm_entity_id, conv.crm_title)]
    else:
        pairs = []
    entries = []
    for entity_type, entity_id, title in pairs:
        label = CRM_LABELS.get(entity_type, entity_type.title())
        text = f"{label} #{entity_id}" + (f" — {title}" if title else "")
        entries.append((text, crm_url(entity_type, entity_id)))
    return entries


def build_rows(user, convs, keys) -> list[Row]:
    columns = [COLUMNS[k] for k in keys]
    ids = [c.pk for c in convs]
    history, act, rate = (allowed_ids(user, a, ids) for a in ("history", "act", "rate"))
    rows = []
    for conv in convs:
        cells = [(col, col.render_html(conv)) for col in columns]
        rows.append(
            Row(
                conv,
                cells,
                can_history=conv.pk in history,
                can_act=conv.pk in act,
                can_rate=conv.pk in rate,
                crm_links=crm_entries(conv),
            )
        )
        rows[-1].end_label_text = rows[-1].end_label(user)
    return rows


def load_row(user, pk, keys) -> Row | None:
    """One row again after an action, through the same visibility rule as the grid."""
    qs = (
        Conversation.objects.visible_to(user, "view")
        .filter(pk=pk)
        .select_related(*related_for(keys))
    )
    if "crm_record" in keys:
        qs = qs.prefetch_related(
            Prefetch(
                "crm_links",
                queryset=ConversationCrmLink.objects.order_by("-is_primary", "id"),
                to_attr="prefetched_crm_links",
            )
        )
    conv = qs.first()
    if conv is None:
        return None
    return build_rows(user, [conv], keys)[0]
