"""The statistics page and its .xlsx table exports."""

from __future__ import annotations

import datetime as dt
import io
import re
from html import escape
from urllib.parse import urlencode

import xlsxwriter
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import numberformat
from django.utils.formats import get_format
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from convodesk import display
from convodesk.accounts.access import level
from convodesk.accounts.models import Level
from convodesk.conversations.columns import humanize_duration
from convodesk.conversations.filters import FILTER_PARAMS

from . import aggregates, charts, histogram
from .tables import DURATION, NUMBER, PERCENT, TABLES, TEXT, rows_for


def day_labels() -> list[str]:
    return [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")]


def _refuse_without_permission(user) -> None:
    if level(user, "view_statistics") < Level.OWN:
        raise PermissionDenied(_("You may not view statistics."))


def _filter_query(request, drop=()) -> str:
    items = [
        (k, v)
        for k in request.GET
        for v in request.GET.getlist(k)
        if (k in FILTER_PARAMS or k in aggregates.PAGE_PARAMS) and k not in drop and v != ""
    ]
    return urlencode(items)


def _list_query(request) -> str:
    return urlencode(
        [(k, v) for k in request.GET for v in request.GET.getlist(k) if k in FILTER_PARAMS and v]
    )


def _chips(cleaned: dict, raw) -> list[str]:
    """The active filter as short readable chips (names, not ids)."""
    from django.contrib.auth import get_user_model

    from convodesk.lines.models import Connection, Line

    chips = []
    for key, value in cleaned.items():
        if key in ("started_from", "started_to", "sort"):
            continue
        if key == "line":
            names = Line.objects.filter(pk__in=value).values_list("name", flat=True)
            chips.append(_("Open channel: %(v)s") % {"v": ", ".join(names)})
        elif key == "channel":
            labels = dict(Connection.Kind.choices)
            chips.append(
                _("Channel: %(v)s") % {"v": ", ".join(str(labels.get(v, v)) for v in value)}
            )
        elif key == "responsible":
            users = {
                u.pk: u.name
                for u in get_user_model().objects.filter(pk__in=[i for i in value if i])
            }
            names = [users.get(i, f"#{i}") if i else str(_("not assigned")) for i in value]
            chips.append(_("Responsible: %(v)s") % {"v": ", ".join(names)})
        else:
            chips.append(f"{key}: {raw.get(key)}")
    return chips


def _presets(request, scope) -> list[dict]:
    today = scope.now.astimezone(scope.tz).date()
    ranges = [
        (_("Today"), today, today),
        (_("Last 7 days"), today - dt.timedelta(days=6), today),
        (_("Last 30 days"), today - dt.timedelta(days=29), today),
        (_("This month"), today.replace(day=1), today),
        (_("All time"), None, None),
    ]
    base = [
        (k, v)
        for k in request.GET
        for v in request.GET.getlist(k)
        if k not in ("started_from", "started_to")
        and (k in FILTER_PARAMS or k in aggregates.PAGE_PARAMS)
        and v
    ]
    presets = []
    for label, start, end in ranges:
        items = list(base)
        if start:
            items += [("started_from", start.isoformat()), ("started_to", end.isoformat())]
        active = request.GET.get("started_from", "") == (
            start.isoformat() if start else ""
        ) and request.GET.get("started_to", "") == (end.isoformat() if end else "")
        presets.append({"label": label, "query": urlencode(items), "active": active})
    return presets


def _grouping() -> dict:
    """The active language's number format, looked up once per table (not per cell)."""
    return {
        "decimal_sep": get_format("DECIMAL_SEPARATOR"),
        "grouping": get_format("NUMBER_GROUPING"),
        "thousand_sep": get_format("THOUSAND_SEPARATOR"),
        "force_grouping": True,
    }


def _count(value: int, grouping: dict) -> str:
    """A whole number grouped as numberformat.format groups it, by Python's own (faster)
    grouping where the language groups by threes, as English and Spanish do."""
    if grouping["grouping"] == 3:
        return f"{value:,}".replace(",", grouping["thousand_sep"])
    return numberformat.format(value, **grouping)


def _cell(col, value, grouping: dict | None = None):
    if value is None:
        return "–"
    if isinstance(value, int) and col.kind not in (DURATION, TEXT):
        return _count(value, grouping or _grouping())
    if col.kind == DURATION:
        return humanize_duration(round(value))
    if col.kind == PERCENT:
        return f"{numberformat.format(value, decimal_pos=1, **(grouping or _grouping()))} %"
    if col.kind == NUMBER:
        return numberformat.format(value, decimal_pos=1, **(grouping or _grouping()))
    return value


# The tables the page shows, in its order (each also exported on its own).
PAGE_TABLES = (
    "metrics",
    "timeline",
    "ratings",
    "lines",
    "channels",
    "tags",
    "close_reasons",
    "employees",
    "heatmap",
)


# The tables whose cells the page's template lays out itself (the others arrive as HTML).
CELL_TABLES = frozenset({"metrics"})
_SPECIAL = re.compile(r"[&<>\"']")


def _safe(value) -> str:
    """`value` as text for HTML (in an element or a double-quoted attribute): escaped only when
    it holds a character that needs it, which formatted figures almost never do."""
    text = str(value)
    return escape(text) if _SPECIAL.search(text) else text


def _table(key: str, report: dict) -> dict:
    cols, rows = rows_for(key, report)
    grouping = _grouping()
    # Rendered here rather than cell by cell in the template: the employee table alone has
    # thousands of cells, and three template variables per cell cost ~200 ms a page.
    html = []
    cells = [] if key in CELL_TABLES else None
    for row in rows:
        html.append("<tr>")
        laid_out = []
        for c in cols:
            value = row.get(c.key)
            text = _cell(c, value, grouping)
            sort = "" if value is None else value
            html.append(f'<td class="{c.kind}" data-sort="{_safe(sort)}">{_safe(text)}</td>')
            if cells is not None:
                laid_out.append({"text": text, "sort": sort, "kind": c.kind})
        html.append("</tr>")
        if cells is not None:
            cells.append(laid_out)
    return {
        "key": key,
        "title": TABLES[key][0],
        "cols": cols,
        "empty": not rows,
        "cells": cells,
        "html": mark_safe("".join(html)),
    }


@login_required
def statistics(request):
    _refuse_without_permission(request.user)
    scope = aggregates.build_scope(request.user, display.iso_dates(request.GET))
    context = {
        "errors": scope.errors,
        "query": _filter_query(request),
        "list_query": _list_query(request),
        "scope": scope,
        "sl_choices": histogram.SERVICE_LEVEL_CHOICES,
        "intervals": [
            (k, label)
            for k, label in zip(
                aggregates.INTERVALS, (_("Hours"), _("Days"), _("Weeks"), _("Months")), strict=True
            )
        ],
        "error_bound": histogram.ERROR_BOUND_PERCENT,
        "cleaned": scope.filter.cleaned,
        "raw": request.GET,
        "presets": _presets(request, scope),
        "filter_chips": _chips(scope.filter.cleaned, request.GET),
    }
    if not scope.errors:
        report = aggregates.compute(scope)
        context.update(_page(report, request))
    status = 400 if scope.errors else 200
    return render(request, "stats/page.html", context, status=status)


def _page(report: dict, request) -> dict:
    k = report["kpis"]
    timeline = report["timeline"]
    channel_items = [
        (r["name"], r["conversations"], charts.CHANNEL_COLORS.get(r["key"], "#667085"))
        for r in report["channels"]
    ]
    line_items = [
        (r["name"], r["conversations"], charts.PALETTE[i % len(charts.PALETTE)])
        for i, r in enumerate(report["lines"][:12])
    ]
    base = _filter_query(request, drop=("interval",))
    art = report["metrics"][0]
    return {
        "report": report,
        "k": k,
        "interval_base": base,
        "charts": {
            "timeline": charts.time_series(
                timeline,
                [("new", _("New"), "#2f5bea"), ("closed", _("Closed"), "#12b76a")],
                secondary=("reply_time_avg", _("Avg reply time"), "#f79009"),
                title=_("Reaction dynamics"),
            ),
            "ratings": charts.time_series(
                timeline,
                [("likes", _("Likes"), "#12b76a"), ("dislikes", _("Dislikes"), "#f04438")],
                title=_("Rating dynamics"),
                height=200,
            ),
            "channels": charts.donut(channel_items, title=_("conversations")),
            "lines": charts.hbars(line_items, title=_("Open channels")),
            "heatmap": charts.heatmap(report["heatmap"], day_labels(), title=_("Busiest hours")),
            "satisfaction": charts.meter(k["satisfaction"]),
            "service_level": charts.meter(k["service_level"], "#2f5bea"),
            "answered_within": charts.meter(k["answered_within_share"], "#2f5bea"),
        },
        "channel_legend": channel_items,
        "ratings_split": _split(
            [
                (k["likes"], "#12b76a", _("Likes")),
                (k["dislikes"], "#f04438", _("Dislikes")),
                (k["not_rated"], "#d0d5dd", _("Not rated")),
            ]
        ),
        "status_split": _split(
            [
                (k["in_work"], "#f79009", _("In work")),
                (k["closed"], "#12b76a", _("Closed")),
                (k["spam"], "#f04438", _("Spam")),
            ]
        ),
        "tables": {key: _table(key, report) for key in PAGE_TABLES},
        "fmt_reply": humanize_duration(round(k["reply_time_avg"]))
        if k["reply_time_avg"] is not None
        else "–",
        "fmt_art": _duration(art["average"]),
        "fmt_art_median": _duration(art["median"]),
        "art_open": art["without_value"],
    }


def _duration(seconds) -> str:
    return "–" if seconds is None else humanize_duration(round(seconds))


def _split(parts):
    total = sum(p[0] for p in parts)
    return [
        {"value": v, "color": c, "label": label, "share": round(v * 100 / total, 1) if total else 0}
        for v, c, label in parts
    ]


@login_required
def export_table(request, table: str):
    _refuse_without_permission(request.user)
    if table not in TABLES:
        raise Http404
    scope = aggregates.build_scope(request.user, display.iso_dates(request.GET))
    if scope.errors:
        return HttpResponse(
            "; ".join(f"{k}: {v}" for k, v in scope.errors.items()),
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    report = aggregates.compute(scope)
    cols, rows = rows_for(table, report)
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(
        buffer,
        {
            "in_memory": True,
            "strings_to_formulas": False,  # an employee named "=HYPERLINK(…)" stays text
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    sheet = book.add_worksheet(str(TABLES[table][0])[:31])
    bold = book.add_format({"bold": True, "bg_color": "#EEF0F3"})
    formats = {
        DURATION: book.add_format({"num_format": "[h]:mm:ss"}),
        PERCENT: book.add_format({"num_format": "0.0"}),
        NUMBER: book.add_format({"num_format": "0.0"}),
    }
    for c, col in enumerate(cols):
        label = str(col.label) + (" (%)" if col.kind == PERCENT else "")
        sheet.write(0, c, label, bold)
        sheet.set_column(c, c, 28 if col.kind == TEXT else 14)
    for r, row in enumerate(rows, start=1):
        for c, col in enumerate(cols):
            value = row.get(col.key)
            if value is None:
                continue
            if col.kind == DURATION:
                sheet.write_number(r, c, value / 86400, formats[DURATION])
            elif col.kind in formats:
                sheet.write_number(r, c, value, formats[col.kind])
            else:
                sheet.write(r, c, value)
    sheet.freeze_panes(1, 0)
    if rows:
        sheet.autofilter(0, 0, len(rows), len(cols) - 1)
    book.close()
    response = HttpResponse(
        buffer.getvalue(),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="statistics-{table}.xlsx"'
    return response
