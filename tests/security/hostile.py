"""The hostile-input corpus (issue 15): one list that every ingestion path and every screen is fed.

Import it, do not copy it:

    from tests.security.hostile import HOSTILE_TEXTS, INVALID_UTF8, assert_storable, ...

`HOSTILE_TEXTS` are (name, text) pairs that can travel inside JSON, a form, a socket frame or a
mail. `INVALID_UTF8` are raw byte strings that are not UTF-8 at all (a body or a mail part can
carry them; JSON text cannot). `HOSTILE_URLS` are links that must never become clickable
script. `big_body()` and `deep_json()` build the oversized and over-nested request bodies.
"""

from __future__ import annotations

import re

# Control characters a database or a terminal must never receive: NUL and the C0 set except
# tab, line feed and carriage return (which are text). DEL and C1 are legitimate Unicode and kept.
FORBIDDEN_CONTROLS_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
LONE_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")

ALL_C0 = "".join(chr(c) for c in range(32))

HOSTILE_TEXTS: list[tuple[str, str]] = [
    ("nul", "before\x00after"),
    ("nul_only", "\x00"),
    ("c0_controls", f"c0:{ALL_C0}:end"),
    ("escape_sequence", "\x1b[31mred\x1b[0m \x07bell \x08backspace"),
    ("del_and_c1", "del\x7f c1\x80\x85\x9f"),
    ("lone_surrogate", "half a pair \ud800 here and \udfff there"),
    ("javascript_url", "javascript:alert(document.cookie)"),
    ("javascript_url_mixed_case", "  JaVaScRiPt:alert(1)"),
    ("javascript_url_with_tab", "java\tscript:alert(1)"),
    ("data_url", "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="),
    ("script_tag", "<script>alert(1)</script><img src=x onerror=alert(1)>"),
    ("template_syntax", "{{ request.user }} {% debug %} ${7*7}"),
    ("rtl_override", "invoice\u202egpj.exe\u202c and \u2067isolate\u2069"),
    ("zero_width", "a\u200bb\u200cc\u200dd\u2060e\ufefff"),
    ("emoji", "👍🏽 👨‍👩‍👧‍👦 🇪🇸 ✈️"),
    ("combining_marks", "Z̸̡̛̤̈́a̷̢̛l̶̨̛g̸̡̛o̵̢̧"),
    ("long_name", "N" * 5000),
    ("very_long_text", ("lorem ipsum " * 9000).strip()),  # ~108,000 characters
    ("whitespace_only", " \t\n\r "),
    ("sql_like", "'; DROP TABLE conversations_message; --"),
    # Digits that are not ASCII: "³".isdigit() is True but int("³") raises; int("٣") and int("１")
    # read 3 and 1. An id, a page or a threshold is ASCII 0-9 only.
    ("superscript_digit", "³"),
    ("circled_digit", "①"),
    ("arabic_indic_digit", "٣"),
    ("fullwidth_digit", "１"),
]

HOSTILE_DIGITS: list[tuple[str, str]] = [
    (name, text) for name, text in HOSTILE_TEXTS if name.endswith("_digit")
]

# Names (client names, subjects, file names): the short, hostile ones plus the 5,000-char name.
HOSTILE_NAMES: list[tuple[str, str]] = [
    (name, text)
    for name, text in HOSTILE_TEXTS
    if name
    in (
        "nul",
        "c0_controls",
        "lone_surrogate",
        "script_tag",
        "rtl_override",
        "zero_width",
        "emoji",
        "long_name",
    )
]

HOSTILE_URLS: list[tuple[str, str]] = [
    ("javascript", "javascript:alert(document.cookie)"),
    ("javascript_spaced_mixed_case", "  JaVaScRiPt:alert(1)"),
    ("javascript_tab", "java\tscript:alert(1)"),
    ("javascript_entity", "javascript&colon;alert(1)"),
    ("vbscript", "vbscript:msgbox(1)"),
    ("data_html", "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="),
    ("data_svg", "data:image/svg+xml,<svg onload=alert(1)>"),
    ("file", "file:///etc/passwd"),
    ("protocol_relative", "//evil.example/x"),
    ("nul_in_url", "https://shop.example/\x00javascript:alert(1)"),
]

INVALID_UTF8: list[tuple[str, bytes]] = [
    ("lone_continuation", b"ok \x80 not ok"),
    ("truncated_sequence", b"caf\xc3"),
    ("overlong_slash", b"\xc0\xaf"),
    ("encoded_surrogate", b"\xed\xa0\x80"),
    ("latin1_bytes", b"Se\xf1or \xe9t\xe9"),
    ("ff_fe", b"\xff\xfe\xff"),
    ("nul_byte", b"a\x00b"),
]


def big_body(size: int = 10 * 1024 * 1024) -> bytes:
    """A syntactically valid JSON body of about `size` bytes (10 MB by default)."""
    return b'{"text": "' + b"x" * max(0, size - 12) + b'"}'


def deep_json(depth: int = 100_000) -> bytes:
    """A JSON body nested `depth` levels deep: json.loads raises RecursionError on it."""
    return b"[" * depth + b"]" * depth


def is_clean(value: str) -> bool:
    """What may be stored: no NUL or forbidden C0 control, no lone surrogate (PostgreSQL and
    every UTF-8 encoder refuse them)."""
    return not FORBIDDEN_CONTROLS_RE.search(value) and not LONE_SURROGATE_RE.search(value)


def assert_storable(value, where: str = "") -> None:
    """Walk strings, lists and dicts (JSON fields) and fail on any unclean string."""
    if isinstance(value, str):
        assert is_clean(value), f"{where or 'value'} holds a control character: {value[:80]!r}"
    elif isinstance(value, dict):
        for key, item in value.items():
            assert_storable(key, f"{where}.key")
            assert_storable(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            assert_storable(item, f"{where}[{index}]")
