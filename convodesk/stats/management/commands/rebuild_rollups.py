"""Recompute every statistics rollup tier and the per-employee participation from the
conversation table (after bulk loads); the range is widened to whole 16-day spans."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_date, parse_datetime

from convodesk.stats import rollups


def _moment(raw: str) -> dt.datetime:
    moment = parse_datetime(raw) if ("T" in raw or " " in raw) else None
    if moment is None:
        day = parse_date(raw)
        if day is None:
            raise CommandError(f"Not a date or datetime: {raw!r}")
        moment = dt.datetime.combine(day, dt.time.min)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment


class Command(BaseCommand):
    help = "Recompute statistics rollups for a range of started_at (UTC; default: everything)."

    def add_arguments(self, parser):
        parser.add_argument("--start", help="ISO date or datetime (UTC when no offset)")
        parser.add_argument("--end", help="ISO date or datetime, exclusive")

    def handle(self, *args, start=None, end=None, **options):
        first = _moment(start) if start else None
        last = _moment(end) if end else None
        if first and last and first >= last:
            raise CommandError("--start must be before --end")
        count = rollups.rebuild(first, last)
        self.stdout.write(
            f"Rolled up {count} conversations (ranges widened to whole 16-day spans)."
        )
