"""What connectors store passes through one cleaning step (issue 15: bad bytes never stop a
channel): `clean()` / `clean_data()`, defined with the other normalisers in
`conversations/normalize.py` so that the services and the API use the very same function."""

from __future__ import annotations

from convodesk.conversations.normalize import (
    CONTROLS_RE,
    REPLACEMENT,
    SURROGATES_RE,
    clean,
    clean_data,
)

__all__ = ["CONTROLS_RE", "REPLACEMENT", "SURROGATES_RE", "clean", "clean_data", "visible"]


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
