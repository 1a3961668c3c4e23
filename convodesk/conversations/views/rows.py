"""One grid row: its cells from the column registry and the actions this viewer may take on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape as html_escape

from django.utils.html import conditional_escape, escape, format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from convodesk import display, links
from convodesk.accounts.access import level
from convodesk.accounts.models import Level

from .. import lifecycle
from ..columns import (
    COLUMNS,
    CRM_LABELS,
    crm_url,
    prefetch_for,
    related_for,
    stars_icons,
    with_crm_links,
)
from ..models import Conversation
from ..visibility import ACTION_PERMISSION, scope_for


def row_texts() -> dict:
    """The row menu's fixed wording, translated once per page."""
    return {
        "history": gettext("Chat history"),
        "start": gettext("Start conversation"),
        "spam": gettext("Force end (spam)"),
        "client": gettext("All conversations of this client"),
        "crm": gettext("Open CRM card"),
        "activity": gettext("Open CRM activity"),
        "rate": gettext("Rate"),
        "not_selectable": gettext("Closing or closed conversations cannot be selected"),
    }


@dataclass
class Row:
    conv: Conversation
    cells: str
    can_history: bool = False
    can_act: bool = False
    can_rate: bool = False
    crm_links: list = field(default_factory=list)
    end_label_text: str = ""
    # The whole <tr> (PageCells.tr): what _row.html and the grid print.
    html: str = ""
    html_oob: str = ""

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

    # URLs and per-row wording are built here: reversing and translating through template tags
    # for every row of a 200-row page costs more than the page's queries.
    @property
    def urls(self) -> dict:
        pk = self.conv.pk
        return {
            "history": links.id_path("conversations:history", pk),
            "start": links.id_path("conversations:start", pk),
            "end": links.id_path("conversations:end", pk),
            "spam": links.id_path("conversations:spam", pk),
            "rate": links.id_path("conversations:rate", pk),
            "menu": links.id_path("conversations:row_menu", pk),
            "client": f"{links.path('conversations:list')}?client_id={self.conv.client_id}",
        }

    @property
    def texts(self) -> dict:
        pk = {"id": self.conv.pk}
        return {
            "select": gettext("Select conversation %(id)s") % pk,
            "actions": gettext("Actions for conversation %(id)s") % pk,
            "confirm_end": gettext("End conversation #%(id)s?") % pk,
            "confirm_spam": gettext("Force end conversation #%(id)s as spam?") % pk,
        }

    @property
    def activity_url(self) -> str:
        return crm_url("activity", self.conv.crm_activity_id) if self.conv.crm_activity_id else ""


# What every row reads whatever its columns: its class (status, due time), its actions (the
# responsible employee) and its menu (the client's other conversations, the CRM entries).
ROW_FIELDS = (
    "id",
    "status",
    "due_at",
    "responsible",
    "client",
    "crm_entity_type",
    "crm_entity_id",
    "crm_title",
    "crm_activity_id",
)


def grid_fields(keys, sort_field: str = "id") -> list[str]:
    """The fields a page of rows reads (`QuerySet.only`): those of its columns, the row's own and
    the sort field its cursors carry. A conversation with its joined client, open channel and
    employee has over a hundred columns; a default page shows about twenty (issue 23: the row
    fetch against hand-written SQL). A field read but not listed here costs a query per row:
    tests/list/test_list_fields.py renders every column with deferred loading refused."""
    paths = {*ROW_FIELDS, sort_field}
    for key in keys:
        paths.update(COLUMNS[key].fields)
        paths.update(COLUMNS[key].shows)
    return sorted(paths)


def grid_queryset(queryset, keys, sort_field: str = "id"):
    """Rows as every path that prints them loads them (the page, its live rows, a row after an
    action or in its menu): the columns' joins, their fields alone, and what they read from
    other tables (the CRM links, the tags) prefetched for all the rows at once."""
    queryset = queryset.select_related(*related_for(keys)).only(*grid_fields(keys, sort_field))
    if "crm_record" in keys:
        queryset = with_crm_links(queryset)
    return prefetch_for(queryset, keys)


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


def rate_summary(conv, stars: str | None = None) -> str:
    """The rating cell of a row the viewer may rate: the stars, and a popover whose editor is
    loaded when it is opened (GET rate/ over htmx, list.js), so a page does not carry 50 forms.
    `stars`: stars_icons of the row's rating and comment, when the caller has them already."""
    if stars is None:
        stars = stars_icons(conv.supervisor_rating or 0, conv.supervisor_comment)
    return format_html(
        '<details class="rate-inline" data-rate data-load="rate"><summary>{}</summary>'
        '<div class="rate-pop" id="rate-box-{}"></div></details>',
        stars,
        conv.pk,
    )


def rate_editor(conv) -> str:
    """The inline 1–5 stars and comment editor (htmx posts it; the row comes back refreshed)."""
    pk, current = conv.pk, conv.supervisor_rating or 0
    radios = format_html_join(
        "",
        '<input type="radio" id="r{0}-{1}" name="rating-{0}" value="{1}"{2}><label for="r{0}-{1}" title="{1}">★</label>',
        ((pk, i, mark_safe(" checked") if i == current else "") for i in range(5, 0, -1)),
    )
    clear = ""
    if current:
        clear = format_html(
            '<button type="button" class="btn btn-sm" hx-post="{}" hx-vals=\'{{"clear": "1"}}\' hx-target="#row-{}" '
            'hx-swap="outerHTML">{}</button>',
            links.id_path("conversations:rate", pk),
            pk,
            gettext("Clear"),
        )
    return format_html(
        '<div class="star-input" role="radiogroup" aria-label="{label}">{radios}</div>'
        '<textarea name="comment-{pk}" rows="2" placeholder="{placeholder}" aria-label="{comment_label}">{comment}</textarea>'
        '<div class="rate-actions"><button type="button" class="btn btn-sm btn-primary" hx-post="{url}" '
        'hx-include="#rate-box-{pk}" hx-target="#row-{pk}" hx-swap="outerHTML" data-action="rate">{save}</button>{clear}</div>',
        pk=pk,
        label=gettext("Supervisor rating"),
        radios=radios,
        placeholder=gettext("Comment (optional)"),
        comment_label=gettext("Comment"),
        comment=conv.supervisor_comment,
        url=links.id_path("conversations:rate", pk),
        save=gettext("Save"),
        clear=clear,
    )


# Cells carry a class only where the stylesheet needs one (list.css): the sticky and clipped
# columns by key, right-aligned figures as "r". A 50-row page stays light (issue 22).
STYLED_CELLS = {"id", "client", "crm_record", "excerpt", "source_url", "supervisor_comment"}


def cell_classes(columns) -> list[str]:
    classes = []
    for col in columns:
        names = [f"col-{col.key}"] if col.key in STYLED_CELLS else []
        if col.align == "right":
            names.append("r")
        classes.append(format_html(' class="{}"', " ".join(names)) if names else "")
    return classes


def _escaped(html) -> str:
    """conditional_escape, with plain text escaped directly (html.escape is what Django's
    escape runs, without its check for lazy arguments on every call)."""
    if type(html) is str:
        return html_escape(html)
    return conditional_escape(html)


class PageCells:
    """What every row of one page shares, looked up once (issue 23: rendering was half of a
    page's time): the columns with their cell classes, the date format and time zone, the
    row's fixed wording, and the cells whose HTML depends only on a small value (Column.memo:
    a status badge, a channel, a duration), rendered and escaped once per distinct value."""

    def __init__(self, columns):
        self.columns = list(zip(columns, cell_classes(columns), strict=True))
        self.when = display.when_function()
        self.memo: dict = {}
        texts = row_texts()
        # Escaped before the id goes in: the same text as escaping after (an id is digits).
        self.select = escape(gettext("Select conversation %(id)s"))
        self.actions = escape(gettext("Actions for conversation %(id)s"))
        self.not_selectable = f' disabled title="{escape(texts["not_selectable"])}"'

    def _cell(self, col, cls, conv) -> str:
        return f"<td{cls}>{_escaped(col.render_html(conv, self.when))}</td>"

    def cells(self, conv, can_rate: bool) -> str:
        """The row's cells in one string: 50 rows × 20 cells through template tags cost more
        than the queries. Every value is escaped (format_html, or escape for plain text)."""
        parts = []
        memo = self.memo
        for col, cls in self.columns:
            if col.key == "supervisor_rating" and can_rate:
                key = ("stars", conv.supervisor_rating or 0, conv.supervisor_comment)
                stars = memo.get(key)
                if stars is None:
                    stars = memo[key] = stars_icons(*key[1:])
                parts.append(f"<td{cls}>{rate_summary(conv, stars)}</td>")
            elif col.memo is not None:
                key = (col.key, col.memo(conv))
                cell = memo.get(key)
                if cell is None:
                    cell = memo[key] = self._cell(col, cls, conv)
                parts.append(cell)
            else:
                parts.append(self._cell(col, cls, conv))
        return mark_safe("".join(parts))

    def tr(self, row: Row) -> tuple[str, str]:
        """The row's <tr> as conversations/_row.html prints it, and its out-of-band form."""
        conv, pk = row.conv, row.conv.pk
        overdue = " row-overdue" if conv.is_overdue else ""
        head = f'<tr id="row-{pk}" class="row-{escape(conv.simple_status)}{overdue}" data-id="{pk}"'
        body = (
            f'>\n<td class="col-check"><input type="checkbox" name="ids" value="{pk}" '
            f'form="bulk-form" aria-label="{self.select % {"id": pk}}"'
            f"{'' if row.selectable else self.not_selectable}></td>\n{row.cells}\n"
            '<td class="col-actions"><details class="menu" data-menu data-load="menu">'
            '<summary class="btn btn-sm btn-ghost" aria-label="'
            f'{self.actions % {"id": pk}}">⋯</summary><div class="menu-pop" role="menu"></div>'
            "</details></td>\n</tr>\n"
        )
        return mark_safe(head + body), mark_safe(f'{head} hx-swap-oob="true"{body}')


def build_rows(user, convs, keys) -> list[Row]:
    page = PageCells([COLUMNS[k] for k in keys])
    ids = [c.pk for c in convs]
    history, act, rate = (allowed_ids(user, a, ids) for a in ("history", "act", "rate"))
    labels = {}
    rows = []
    for conv in convs:
        pk = conv.pk
        can_rate = pk in rate
        row = Row(
            conv,
            page.cells(conv, can_rate),
            can_history=pk in history,
            can_act=pk in act,
            can_rate=can_rate,
            crm_links=crm_entries(conv),
        )
        # One of three texts, by who is responsible: translated once per page.
        who = (
            "none"
            if conv.responsible_id is None
            else ("me" if conv.responsible_id == user.pk else "other")
        )
        if who not in labels:
            labels[who] = row.end_label(user)
        row.end_label_text = labels[who]
        row.html, row.html_oob = page.tr(row)
        rows.append(row)
    return rows


def load_row(user, pk, keys) -> Row | None:
    """One row again after an action, through the same visibility rule as the grid."""
    conv = grid_queryset(Conversation.objects.visible_to(user, "view").filter(pk=pk), keys).first()
    if conv is None:
        return None
    return build_rows(user, [conv], keys)[0]
