"""Server-rendered SVG charts: no JavaScript library, no CDN, readable without scripts.

Each helper returns safe markup sized by its viewBox, so the page's CSS scales it.
"""

from __future__ import annotations

import math

from django.utils.html import escape
from django.utils.safestring import mark_safe

from convodesk import display

PALETTE = ("#2f5bea", "#12b76a", "#f79009", "#7a5af8", "#229ed9", "#ee46bc", "#667085", "#f04438")
CHANNEL_COLORS = {
    "livechat": "#2f5bea",
    "telegram": "#229ed9",
    "email": "#f79009",
    "api": "#7a5af8",
}


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1
    exp = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exp:
            return step * exp
    return 10 * exp


DURATION_STEPS = (
    10,
    30,
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    10800,
    21600,
    43200,
    86400,
    172800,
    345600,
    604800,
    1209600,
    2592000,
)


def _nice_duration_max(value: float) -> float:
    """A round axis top for durations: each quarter a whole number of s / min / h / days."""
    for step in DURATION_STEPS:
        if value <= step * 4:
            return step * 4
    return _nice_max(value)


def _count_peak(highest: float) -> int:
    """An axis top whose quarter ticks are whole numbers (counts are never fractional)."""
    if highest <= 20:
        return 4 * math.ceil(max(highest, 1) / 4)
    quarter = highest / 4
    exp = 10 ** math.floor(math.log10(quarter))
    for step in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if quarter <= step * exp:
            return int(round(4 * step * exp))
    return int(40 * exp)


def _fmt(value: float) -> str:
    """An axis tick: 950, 1.5k, 12k, with the language's decimal mark (convodesk.display)."""
    if value >= 10000:
        return f"{display.number(round(value / 1000))}k"
    if value >= 1000:
        return f"{display.number(value / 1000, 1)}k"
    return display.number(value, 0 if float(value).is_integer() else 1)


def _duration_tick(seconds: float) -> str:
    if seconds >= 172800:
        return f"{seconds / 86400:g} d"
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    if seconds >= 60:
        return f"{seconds / 60:g} min"
    return f"{seconds:.0f} s"


def time_series(points, series, secondary=None, width=760, height=240, title="") -> str:
    """Bars (few points) or lines (many) for `series` [(key, label, colour)], and an optional
    secondary line (key, label, colour) on its own right-hand scale (durations)."""
    left, right, top, bottom = 44, 56 if secondary else 14, 12, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    out = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
    ]
    if not points:
        out.append(
            f'<text x="{width / 2}" y="{height / 2}" class="chart-empty" text-anchor="middle">–</text></svg>'
        )
        return mark_safe("".join(out))
    highest = max(max(p[k] for k, _l, _c in series) for p in points)
    peak = _count_peak(highest)
    for i in range(5):
        y = top + plot_h - plot_h * i / 4
        out.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
        )
        out.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">{_fmt(peak * i / 4)}</text>'
        )
    n = len(points)
    step = plot_w / n
    if n <= 62:
        bar_w = max(1.5, step * 0.8 / len(series))
        for i, p in enumerate(points):
            for j, (key, label, colour) in enumerate(series):
                h = plot_h * p[key] / peak
                x = left + i * step + step * 0.1 + j * bar_w
                out.append(
                    f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                    f'fill="{colour}" rx="1.5"><title>{escape(p["label"])} · {escape(label)}: {display.number(p[key])}</title></rect>'
                )
    else:
        base_y = top + plot_h
        for key, label, colour in series:
            coords = " ".join(
                f"{left + (i + 0.5) * step:.1f},{top + plot_h - plot_h * p[key] / peak:.1f}"
                for i, p in enumerate(points)
            )
            first, last = left + 0.5 * step, left + (n - 0.5) * step
            out.append(
                f'<polygon points="{first:.1f},{base_y:.1f} {coords} {last:.1f},{base_y:.1f}" '
                f'fill="{colour}" fill-opacity="0.12" stroke="none"/>'
            )
            out.append(
                f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="1.6" '
                f'stroke-linejoin="round"><title>{escape(label)}</title></polyline>'
            )
    if secondary:
        key, label, colour = secondary
        values = [p[key] for p in points if p[key] is not None]
        if values:
            peak2 = _nice_duration_max(max(values))
            for i in range(5):
                y = top + plot_h - plot_h * i / 4
                out.append(
                    f'<text x="{left + plot_w + 6}" y="{y + 4:.1f}" class="tick">{_duration_tick(peak2 * i / 4)}</text>'
                )
            path, pen = [], "M"
            for i, p in enumerate(points):
                if p[key] is None:
                    pen = "M"
                    continue
                x, y = left + (i + 0.5) * step, top + plot_h - plot_h * p[key] / peak2
                path.append(f"{pen}{x:.1f},{y:.1f}")
                pen = "L"
                out.append(
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}">'
                    f"<title>{escape(p['label'])} · {escape(label)}: {_duration_tick(p[key])}</title></circle>"
                )
            out.append(
                f'<path d="{" ".join(path)}" fill="none" stroke="{colour}" stroke-width="2" stroke-dasharray="5 3"/>'
            )
    every = max(1, math.ceil(n / 8))
    for i, p in enumerate(points):
        if i % every == 0:
            x = left + (i + 0.5) * step
            out.append(
                f'<text x="{x:.1f}" y="{height - bottom + 16}" class="tick" text-anchor="middle">{escape(p["label"])}</text>'
            )
    out.append("</svg>")
    return mark_safe("".join(out))


def donut(items, size=200, title="") -> str:
    """items: [(label, value, colour)]."""
    total = sum(v for _l, v, _c in items)
    r, stroke = 70, 28
    c = size / 2
    out = [
        f'<svg class="chart donut" viewBox="0 0 {size} {size}" role="img" aria-label="{escape(title)}">'
    ]
    circumference = 2 * math.pi * r
    if not total:
        out.append(
            f'<circle cx="{c}" cy="{c}" r="{r}" fill="none" stroke="#eef0f3" stroke-width="{stroke}"/>'
        )
    offset = 0.0
    for label, value, colour in items:
        if not value:
            continue
        length = circumference * value / total
        out.append(
            f'<circle cx="{c}" cy="{c}" r="{r}" fill="none" stroke="{colour}" stroke-width="{stroke}" '
            f'stroke-dasharray="{length:.2f} {circumference - length:.2f}" stroke-dashoffset="{-offset:.2f}" '
            f'transform="rotate(-90 {c} {c})"><title>{escape(label)}: {display.number(value)} ({display.number(value * 100 / total, 1)} %)</title></circle>'
        )
        offset += length
    out.append(
        f'<text x="{c}" y="{c - 2}" text-anchor="middle" class="donut-total">{_fmt(total)}</text>'
    )
    out.append(
        f'<text x="{c}" y="{c + 16}" text-anchor="middle" class="tick">{escape(title)}</text></svg>'
    )
    return mark_safe("".join(out))


def hbars(items, width=420, title="") -> str:
    """Horizontal bars: items [(label, value, colour)]."""
    row, label_w = 26, 130
    height = max(row, row * len(items)) + 6
    peak = max([v for _l, v, _c in items] + [1])
    out = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
    ]
    for i, (label, value, colour) in enumerate(items):
        y = 3 + i * row
        w = (width - label_w - 50) * value / peak
        short = label if len(label) <= 18 else label[:17] + "…"
        out.append(
            f'<text x="{label_w - 8}" y="{y + 16}" class="tick" text-anchor="end">{escape(short)}</text>'
        )
        out.append(
            f'<rect x="{label_w}" y="{y + 4}" width="{max(w, 1):.1f}" height="{row - 10}" rx="3" fill="{colour}">'
            f"<title>{escape(label)}: {display.number(value)}</title></rect>"
        )
        out.append(
            f'<text x="{label_w + w + 6:.1f}" y="{y + 16}" class="tick">{_fmt(value)}</text>'
        )
    out.append("</svg>")
    return mark_safe("".join(out))


def heatmap(grid, day_labels, width=760, title="") -> str:
    """Weekday × hour grid of counts, darker for busier."""
    left, top, cell_w, cell_h = 44, 18, (760 - 44 - 6) / 24, 24
    height = top + cell_h * 7 + 6
    peak = max([max(r) for r in grid] + [1])
    floor = min(v for r in grid for v in r if v) if any(any(r) for r in grid) else 0
    spread = max(peak - floor, 0)
    out = [
        f'<svg class="chart heatmap" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
    ]
    for h in range(0, 24, 2):
        out.append(
            f'<text x="{left + (h + 0.5) * cell_w:.1f}" y="{top - 5}" class="tick" text-anchor="middle">{h:02d}</text>'
        )
    for d, row in enumerate(grid):
        y = top + d * cell_h
        out.append(
            f'<text x="{left - 6}" y="{y + cell_h / 2 + 4:.1f}" class="tick" text-anchor="end">{escape(day_labels[d])}</text>'
        )
        for h, value in enumerate(row):
            # Spread the colours between the quietest and the busiest hour, so a flat week still reads.
            share = (value - floor) / spread if spread else 1.0
            fill = "#f2f4f7" if not value else f"rgba(47,91,234,{0.12 + 0.88 * share:.3f})"
            out.append(
                f'<rect x="{left + h * cell_w + 1:.1f}" y="{y + 1:.1f}" width="{cell_w - 2:.1f}" height="{cell_h - 2:.1f}" '
                f'rx="3" fill="{fill}"><title>{escape(day_labels[d])} {h:02d}:00 · {display.number(value)}</title></rect>'
            )
    out.append("</svg>")
    return mark_safe("".join(out))


def meter(share: float | None, colour="#12b76a") -> str:
    """A thin progress bar for a percentage."""
    width = 0 if share is None else max(0.0, min(100.0, share))
    return mark_safe(
        f'<svg class="meter" viewBox="0 0 100 6" preserveAspectRatio="none" aria-hidden="true">'
        f'<rect width="100" height="6" rx="3" fill="#eef0f3"/>'
        f'<rect width="{width:.1f}" height="6" rx="3" fill="{colour}"/></svg>'
    )
