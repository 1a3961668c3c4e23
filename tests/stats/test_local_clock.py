"""The statistics' timeline and heatmap read each slot in the viewer's wall-clock time."""

import datetime as dt
import zoneinfo

import pytest

from convodesk.stats.aggregates import LocalClock

pytestmark = pytest.mark.nodb


@pytest.mark.parametrize(
    "zone",
    ["Europe/Madrid", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "UTC"],
)
def test_every_quarter_hour_of_a_year_reads_as_the_time_zone_converts_it(zone):
    """Days with a change of offset (Lord Howe moves by half an hour, at a half hour UTC)
    included."""
    tz = zoneinfo.ZoneInfo(zone)
    clock = LocalClock(tz)
    at = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    while at.year == 2025:
        assert clock.wall(at) == at.astimezone(tz).replace(tzinfo=None), at
        at += dt.timedelta(minutes=15)
