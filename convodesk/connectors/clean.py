"""One cleaning step for everything a connector stores (issue 15: bad bytes never stop a channel).

PostgreSQL refuses NUL in text and `\\u0000` in jsonb, every UTF-8 encoder refuses lone
surrogates, and C0 control characters only ever corrupt terminals and logs. So every string a
connector hands to the services passes through `clean()` (or `clean_data()` for JSON-shaped
values) first. Tab, line feed and carriage return are text and stay; so do DEL, C1, the
bidirectional overrides and zero-width characters: they are legitimate Unicode in someone's
name or message, and the templates escape them.
"""

from __future__ import annotations

import re

# NUL and the C0 control characters except \t (09), \n (0a) and \r (0d).
CONTROLS_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
SURROGATES_RE = re.compile(r"[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def clean(value) -> str:
    """A storable string: bytes decoded as UTF-8 (invalid sequences become U+FFFD), lone
    surrogates replaced by U+FFFD, NUL and C0 controls (other than tab and line breaks) removed.
    None becomes ""."""
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("utf-8", "replace")
    elif not isinstance(value, str):
        value = str(value)
    if SURROGATES_RE.search(value):
        # A valid pair split into two code points is joined again; what stays alone is replaced.
        value = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        value = SURROGATES_RE.sub(REPLACEMENT, value)
    return CONTROLS_RE.sub("", value)


def clean_data(value):
    """`clean()` applied to every string (keys too) inside dicts, lists and tuples; other JSON
    scalars (numbers, booleans, None) are kept as they are."""
    if isinstance(value, str | bytes | bytearray):
        return clean(value)
    if isinstance(value, dict):
        return {clean(k) if isinstance(k, str) else k: clean_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_data(item) for item in value]
    return value


def visible(value, limit: int = 2000) -> str:
    """An excerpt safe to store and to show an administrator: the bad characters written out as
    escapes (`\\x00`, `\\ud800`), so the record says exactly what was wrong."""
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("utf-8", "backslashreplace")
    elif not isinstance(value, str):
        value = repr(value)
    value = value[: limit * 2]
    value = CONTROLS_RE.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
    value = SURROGATES_RE.sub(lambda m: f"\\u{ord(m.group()):04x}", value)
    return value[:limit]
