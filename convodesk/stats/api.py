"""GET /api/v1/stats: the statistics page's KPIs and breakdowns as JSON, for the same filter.

The API helper mounts `router` at /api/v1/stats; authentication is the API's (the token's user is
`request.auth`). Unknown parameters and bad values are a 422 naming them, like the list.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from pydantic import create_model

from convodesk.accounts.access import level
from convodesk.accounts.models import Level
from convodesk.api.conversations import FILTER_HELP
from convodesk.api.schemas import DateTime
from convodesk.conversations.filters import FILTER_PARAMS

from . import aggregates, histogram

router = Router(tags=["statistics"])

# Declared for the OpenAPI document (and so for clients and the fuzz run); the view reads the
# query string itself, so repeated parameters and unknown ones are handled as on the list.
StatsParams = create_model(
    "StatisticsParams",
    __base__=Schema,
    **{
        name: (
            str | None,
            Field(None, description=FILTER_HELP.get(name, "As on GET /conversations (SPEC)")),
        )
        for name in sorted(FILTER_PARAMS)
    },
    interval=(
        str | None,
        Field(None, description="Timeline step: hour, day, week or month (default: by span)"),
    ),
    sl=(str | None, Field(None, description="Service level threshold in seconds (default 60)")),
)

Figure = float | None  # a mean or a share, one decimal; null when there is nothing to divide


class Kpis(Schema):
    conversations: int
    in_work: int
    closed: int
    spam: int
    incoming: int
    outgoing: int
    new: int
    returning: int
    likes: int
    dislikes: int
    not_rated: int
    satisfaction: Figure = Field(..., description="Likes among rated conversations, %")
    supervisor_rating_avg: Figure
    supervisor_rated: int
    auto_closed: int
    closed_by_employee: int
    duplicates: int
    reply_time_avg: Figure = Field(..., description="Seconds")
    reply_periods: int
    service_level_seconds: int
    service_level: Figure = Field(..., description="Taken within the threshold, %")
    taken_within: int
    service_level_base: int
    answered_within_share: Figure = Field(..., description="Answered within the threshold, %")
    answered_within: int
    answered_within_base: int
    reply_time_avg_bh: Figure = Field(..., description="Seconds inside business hours")
    sla_met: int = Field(..., description="Waits answered within their reply-time target")
    sla_breaches: int = Field(..., description="Waits that missed their reply-time target")
    sla_compliance: Figure = Field(..., description="Targets met among met and missed, %")


class MetricFigures(Schema):
    key: str = Field(..., description="agent_response_time, first_answer_wait, duration, …")
    label: str
    count: int
    without_value: int
    average: Figure = Field(..., description="Seconds")
    median: Figure = Field(..., description="Seconds, estimated (see the error bound)")
    p90: Figure = Field(..., description="Seconds, estimated (see the error bound)")


class Summary(Schema):
    conversations: int
    new: int
    returning: int
    closed: int
    spam: int
    likes: int
    dislikes: int
    satisfaction: Figure
    supervisor_rating_avg: Figure
    reply_time_avg: Figure
    agent_response_time_avg: Figure
    first_answer_wait_avg: Figure
    reply_time_avg_bh: Figure
    sla_met: int
    sla_breaches: int
    sla_compliance: Figure


class LineFigures(Summary):
    id: int | None = Field(..., description="The open channel")
    name: str
    in_work: int


class ChannelFigures(Summary):
    key: str = Field(..., description="livechat, telegram, email or api")
    name: str
    in_work: int


class LabelFigures(Summary):
    id: int = Field(..., description="The tag or close reason")
    name: str
    in_work: int
    duration_avg: Figure = Field(..., description="Seconds")
    time_to_agent_close_avg: Figure = Field(..., description="Seconds")


class TagFigures(LabelFigures):
    colour: str


class EmployeeFigures(Summary):
    id: int
    name: str
    assigned: int
    taken: int
    skipped: int
    answered: int
    reply_periods: int


class TimelinePoint(Schema):
    start: DateTime = Field(..., description="The step's start, in the answer's time zone")
    label: str
    new: int
    closed: int
    likes: int
    dislikes: int
    reply_time_avg: Figure


class StatisticsOut(Schema):
    source: str = Field(
        ..., description="rollups or conversations: what the figures were read from"
    )
    kpis: Kpis
    metrics: list[MetricFigures]
    lines: list[LineFigures]
    channels: list[ChannelFigures]
    tags: list[TagFigures] = Field(..., description="Per tag: a conversation counts under each")
    close_reasons: list[LabelFigures] = Field(..., description="Per close reason")
    employees: list[EmployeeFigures]
    interval: str = Field(..., description="The timeline's step: hour, day, week or month")
    timeline: list[TimelinePoint]
    heatmap: list[list[int]] = Field(
        ..., description="Conversations started per weekday (Monday first) × hour (0-23)"
    )
    service_level_seconds: int
    percentile_error_bound_percent: float
    time_zone: str = Field(..., description="The zone dates and the heatmap are read in")


def _api_error(status, code, message, details=None):
    from convodesk.api.errors import ApiError

    return ApiError(status, code, message, details)


@router.get("", response=StatisticsOut, summary="Statistics for a filter")
def statistics(request, declared: Query[StatsParams]):
    """The KPIs, the four metrics (percentiles ≈, within the documented histogram bound), and the
    breakdowns over time, per open channel, per channel kind, per employee and per weekday × hour.
    Accepts every list filter parameter plus `interval` (hour/day/week/month) and `sl` (service
    level threshold in seconds)."""
    user = request.auth
    if level(user, "view_statistics") < Level.OWN:
        raise _api_error(403, "forbidden", _("You may not view statistics."))
    allowed = FILTER_PARAMS | set(aggregates.PAGE_PARAMS)
    unknown = {k: _("Unknown parameter.") for k in request.GET if k not in allowed}
    if unknown:
        raise _api_error(
            422,
            "validation_error",
            _("Invalid parameters: %(names)s.") % {"names": ", ".join(sorted(unknown))},
            unknown,
        )
    params = {k: ",".join(request.GET.getlist(k)) for k in request.GET}
    scope = aggregates.build_scope(user, params)
    if scope.errors:
        raise _api_error(
            422,
            "validation_error",
            _("Invalid parameters: %(names)s.") % {"names": ", ".join(sorted(scope.errors))},
            dict(scope.errors),
        )
    report = aggregates.compute(scope)
    report["service_level_seconds"] = scope.service_level
    report["percentile_error_bound_percent"] = histogram.ERROR_BOUND_PERCENT
    report["time_zone"] = str(scope.tz)
    return report
