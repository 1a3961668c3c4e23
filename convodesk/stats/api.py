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
from convodesk.conversations.filters import FILTER_PARAMS

from . import aggregates, histogram

router = Router(tags=["statistics"])

# Declared for the OpenAPI document (and so for clients and the fuzz run); the view reads the
# query string itself, so repeated parameters and unknown ones are handled as on the list.
StatsParams = create_model(
    "StatisticsParams",
    __base__=Schema,
    **{
        name: (str | None, Field(None, description="As on GET /conversations"))
        for name in sorted(FILTER_PARAMS)
    },
    interval=(str | None, Field(None, description="hour, day, week or month")),
    sl=(str | None, Field(None, description="Service level threshold in seconds")),
)


def _api_error(status, code, message, details=None):
    from convodesk.api.errors import ApiError

    return ApiError(status, code, message, details)


@router.get("", summary="Statistics for a filter")
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
