"""The one list of time zones an employee or an open channel may choose.

IANA names from the tz database, less the entries that are not places: `localtime` is a link to
the server's own zone (so its meaning would change with the machine), `Factory` is a placeholder
whose abbreviation is "-00", and `posixrules` is a build artefact some systems ship.
"""

import zoneinfo
from functools import cache

NOT_ZONES = frozenset({"localtime", "Factory", "posixrules"})


@cache
def names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones() - NOT_ZONES)


def is_valid(name) -> bool:
    return isinstance(name, str) and name in names()


def choices() -> list[tuple[str, str]]:
    """(value, label) pairs sorted by name, for a select: "America/New_York" reads "America/New York"."""
    return [(tz, tz.replace("_", " ")) for tz in sorted(names())]
