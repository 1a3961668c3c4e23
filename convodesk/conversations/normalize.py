"""The one normaliser of client contact data, used when storing and when searching."""

import re

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


def looks_like_phone(raw: str) -> bool:
    return len(re.sub(r"\D", "", raw or "")) >= 5 and not re.search(r"[A-Za-z@]", raw or "")


def clean_text(value: str, limit: int | None = None) -> str:
    """Typed text as the database can store it: no NUL characters, trimmed, optionally cut."""
    text = (value or "").replace("\x00", "").strip()
    return text[:limit] if limit else text
