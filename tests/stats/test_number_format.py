"""Large figures on the statistics page are grouped the way the reader's language writes them."""

import pytest
from django.utils import translation

from convodesk.conversations.columns import humanize_duration
from convodesk.stats import views
from convodesk.stats.tables import COUNT, DURATION, TEXT, Col

pytestmark = pytest.mark.nodb


def _cell_texts(language: str) -> list[str]:
    with translation.override(language):
        report = {"employees": [{"name": "Ana 1000", "conversations": 1234567}]}
        cols = [Col("name", "Employee", TEXT), Col("conversations", "Conversations", COUNT)]
        return [views._cell(c, report["employees"][0][c.key]) for c in cols]


def test_counts_in_breakdown_tables_are_grouped_in_english_and_spanish():
    assert _cell_texts("en") == ["Ana 1000", "1,234,567"]
    name, count = _cell_texts("es")
    assert name == "Ana 1000"
    assert count.replace("\xa0", " ").replace(".", " ") == "1 234 567"


def test_durations_and_missing_values_are_not_grouped():
    long = 3 * 86400 + 3725  # more than 1,000 s: a duration, never "263,525"
    assert views._cell(Col("t", "T", DURATION), long) == humanize_duration(long)
    assert "," not in views._cell(Col("t", "T", DURATION), long)
    assert views._cell(Col("n", "N", COUNT), None) == "–"


@pytest.mark.parametrize("language", ["en", "es"])
def test_counts_are_grouped_exactly_as_djangos_number_format_groups_them(language):
    from django.utils import numberformat

    with translation.override(language):
        grouping = views._grouping()
        for value in (0, 7, 999, 1000, -1000, 12345, 999999, 1000000, -98765432, 10**15 + 1):
            assert views._count(value, grouping) == numberformat.format(value, **grouping)
        other = {**grouping, "grouping": (3, 2, 0)}  # a language grouping 12,34,567
        assert views._count(1234567, other) == numberformat.format(1234567, **other)
