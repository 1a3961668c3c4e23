"""The breakdown tables of the statistics page: columns, labels and cell values, shared by the
HTML tables and their .xlsx exports so both always show the same figures."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

COUNT, DURATION, PERCENT, NUMBER, TEXT = "count", "duration", "percent", "number", "text"


@dataclass(frozen=True)
class Col:
    key: str
    label: object
    kind: str = COUNT


BREAKDOWN_COLUMNS = (
    Col("conversations", _("Conversations")),
    Col("new", _("New enquiries")),
    Col("returning", _("Returning")),
    Col("in_work", _("In work")),
    Col("closed", _("Closed")),
    Col("spam", _("Spam")),
    Col("satisfaction", _("Satisfaction"), PERCENT),
    Col("agent_response_time_avg", _("Avg agent response"), DURATION),
    Col("first_answer_wait_avg", _("Avg wait for answer"), DURATION),
    Col("reply_time_avg", _("Avg reply time"), DURATION),
    Col("reply_time_avg_bh", _("Avg reply time (business hours)"), DURATION),
    Col("sla_compliance", _("Targets met"), PERCENT),
    Col("sla_breaches", _("Targets missed")),
    Col("supervisor_rating_avg", _("Supervisor rating"), NUMBER),
)

LABEL_COLUMNS = (
    Col("conversations", _("Conversations")),
    Col("in_work", _("In work")),
    Col("closed", _("Closed")),
    Col("agent_response_time_avg", _("Avg agent response"), DURATION),
    Col("first_answer_wait_avg", _("Avg wait for answer"), DURATION),
    Col("duration_avg", _("Avg duration"), DURATION),
    Col("time_to_agent_close_avg", _("Avg time until agent closed"), DURATION),
    Col("satisfaction", _("Satisfaction"), PERCENT),
)

TABLES = {
    "lines": (_("Open channels"), (Col("name", _("Open channel"), TEXT), *BREAKDOWN_COLUMNS)),
    "channels": (_("Channels"), (Col("name", _("Channel"), TEXT), *BREAKDOWN_COLUMNS)),
    "tags": (_("Tags"), (Col("name", _("Tag"), TEXT), *LABEL_COLUMNS)),
    "close_reasons": (
        _("Close reasons"),
        (Col("name", _("Close reason"), TEXT), *LABEL_COLUMNS),
    ),
    "employees": (
        _("Employees"),
        (
            Col("name", _("Employee"), TEXT),
            Col("conversations", _("Conversations")),
            Col("new", _("New enquiries")),
            Col("returning", _("Returning")),
            Col("assigned", _("Assigned")),
            Col("taken", _("Taken")),
            Col("skipped", _("Skipped")),
            Col("answered", _("Answered")),
            Col("closed", _("Closed")),
            Col("agent_response_time_avg", _("Avg agent response"), DURATION),
            Col("first_answer_wait_avg", _("Avg wait for answer"), DURATION),
            Col("reply_time_avg", _("Avg reply time"), DURATION),
            Col("sla_compliance", _("Targets met"), PERCENT),
            Col("sla_breaches", _("Targets missed")),
            Col("satisfaction", _("Satisfaction"), PERCENT),
            Col("supervisor_rating_avg", _("Supervisor rating"), NUMBER),
        ),
    ),
    "timeline": (
        _("Reaction dynamics"),
        (
            Col("label", _("Period"), TEXT),
            Col("new", _("New")),
            Col("closed", _("Closed")),
            Col("reply_time_avg", _("Avg reply time"), DURATION),
        ),
    ),
    "ratings": (
        _("Rating dynamics"),
        (
            Col("label", _("Period"), TEXT),
            Col("likes", _("Likes")),
            Col("dislikes", _("Dislikes")),
        ),
    ),
    "metrics": (
        _("Time metrics"),
        (
            Col("label", _("Metric"), TEXT),
            Col("average", _("Average"), DURATION),
            Col("median", _("Median ≈"), DURATION),
            Col("p90", _("90th percentile ≈"), DURATION),
            Col("count", _("With a value")),
            Col("without_value", _("Without a value yet")),
        ),
    ),
    "heatmap": (_("Busiest hours"), ()),  # built from the grid, see rows_for
}


def rows_for(key: str, report: dict) -> tuple[list[Col], list[dict]]:
    if key == "heatmap":
        from .views import day_labels

        cols = [Col("day", _("Weekday"), TEXT)] + [Col(str(h), f"{h:02d}") for h in range(24)]
        rows = [
            {"day": day, **{str(h): v for h, v in enumerate(grid_row)}}
            for day, grid_row in zip(day_labels(), report["heatmap"], strict=True)
        ]
        return cols, rows
    cols = list(TABLES[key][1])
    source = {"ratings": "timeline"}.get(key, key)
    return cols, report[source]
