"""The one normaliser of client contact data, used when storing and when searching."""

import re
import unicodedata

import phonenumbers


def normalize_phone(raw: str, country: str = "") -> str:
    """E.164 when a country can be inferred (a + prefix, 00 prefix, or the line's default country),
    the bare digits otherwise."""
    if not raw:
        return ""
    text = raw.strip()
    digits = re.sub(r"\D", "", text)
    if not digits:
        return ""
    if text.startswith("00"):
        text = "+" + digits[2:]
    elif text.startswith("+"):
        text = "+" + digits
    try:
        number = phonenumbers.parse(text, (country or None) and country.upper())
    except phonenumbers.NumberParseException:
        return digits
    if phonenumbers.is_possible_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return digits


def normalize_email(raw: str) -> str:
    return (raw or "").strip().lower()


def looks_like_email(raw: str) -> bool:
    return "@" in (raw or "")


# NUL and the C0 control characters except \t (09), \n (0a) and \r (0d).
CONTROLS_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
SURROGATES_RE = re.compile(r"[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def clean(value) -> str:
    """A storable string, the one cleaning step for text from outside (connectors, the API, the
    forms, the services' own inputs): bytes decoded as UTF-8 (invalid sequences become U+FFFD),
    lone surrogates replaced by U+FFFD, NUL and C0 controls (other than tab and line breaks)
    removed. None becomes "".

    PostgreSQL refuses NUL in text and `\\u0000` in jsonb, every UTF-8 encoder refuses lone
    surrogates, and C0 controls only ever corrupt terminals and logs. DEL, C1, the bidirectional
    overrides and zero-width characters stay: they are legitimate Unicode in someone's name or
    message, and the templates escape them."""
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


def clean_text(value: str, limit: int | None = None) -> str:
    """Typed text as the database can store it: cleaned, trimmed, optionally cut."""
    text = clean(value).strip()
    return text[:limit] if limit else text


ASCII_NUMBER_RE = re.compile(r"[0-9]+")


def parse_id(value, max_digits: int = 18) -> int | None:
    """A whole number 0 or more from a URL, a query or a form: ASCII digits 0-9 only, at most
    `max_digits` of them (18 fit every database's bigint), nothing around them. None otherwise.

    Not str.isdigit(): "³" and "①" pass it and then int() raises; int() also reads "٣" and
    "１" as 3 and 1, which is not the id anyone typed."""
    if not isinstance(value, str) or not 0 < len(value) <= max_digits:
        return None
    if not ASCII_NUMBER_RE.fullmatch(value):
        return None
    return int(value)


def fold_name(value: str) -> str:
    """A name as the client search compares it: accents and case gone, spaces collapsed.

    "Luis  PÉREZ" and "luis perez" both read "luis perez"; ß reads "ss", ñ reads "n" (what
    people type on a keyboard without it). Stored beside the name (Client.name_search), so both
    databases match with a plain LIKE and PostgreSQL's trigram index serves it.
    """
    decomposed = unicodedata.normalize("NFKD", value or "")
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.casefold().split())[:255]
