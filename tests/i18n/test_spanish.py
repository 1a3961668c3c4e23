"""The Spanish translation: a complete, well-formed catalogue, compiled, and actually shown.

The catalogue checks read locale/es/LC_MESSAGES/django.po with a small parser (no polib needed) and
the committed django.mo with the standard library, so they need neither gettext nor a database.
The page checks log in an employee whose language is Spanish and read the pages as a browser would.
"""

import ast
import gettext
import html
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from convodesk.conversations import services

from .. import factories as f

LOCALE_DIR = Path(settings.LOCALE_PATHS[0]) / "es" / "LC_MESSAGES"
PO_FILE = LOCALE_DIR / "django.po"
MO_FILE = LOCALE_DIR / "django.mo"

# msgids that are the same word in Spanish: product names, codes and units.
SAME_IN_SPANISH = {
    "API",
    "CRM",
    "Excel",
    "ID",
    "No",
    "Spam",
    "Telegram",
    "Webhook",
    "min",
    "s",
    "roles",
    "Trekking 28″",
    "%(client)s (%(line)s)",
}
PLACEHOLDER = re.compile(r"%\(\w+\)[sdfr]|%[sdfr%]|\{\w*\}|__N__")
TAG = re.compile(r"</?[a-zA-Z][^>]*>|&[a-z]+;")


def parse_po(path: Path) -> tuple[dict, list[dict]]:
    """Return (header fields, entries); an entry has msgid, msgid_plural, msgstr {index: text}, flags."""
    entries: list[dict] = []
    entry: dict | None = None
    field = None

    def start():
        return {
            "msgctxt": None,
            "msgid": None,
            "msgid_plural": None,
            "msgstr": {},
            "flags": set(),
            "obsolete": False,
            "line": 0,
        }

    entry = start()
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        obsolete = line.startswith("#~")
        if obsolete:
            line = line[2:].strip()
        if not line:
            continue
        if line.startswith("#"):
            if entry["msgid"] is not None and (line.startswith("#,") or line.startswith("#:")):
                entries.append(entry)
                entry = start()
            if line.startswith("#,"):
                entry["flags"].update(flag.strip() for flag in line[2:].split(","))
            continue
        match = re.match(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")$', line)
        if match:
            keyword, index, value = match.group(1), match.group(2), ast.literal_eval(match.group(3))
            if keyword in ("msgid", "msgctxt") and entry["msgid"] is not None and entry["msgstr"]:
                entries.append(entry)
                entry = start()
            entry["obsolete"] = entry["obsolete"] or obsolete
            if keyword.startswith("msgstr"):
                field = ("msgstr", int(index or 0))
                entry["msgstr"][field[1]] = value
            else:
                field = (keyword, None)
                entry[keyword] = value
                entry["line"] = entry["line"] or number
        elif line.startswith('"') and field is not None:
            value = ast.literal_eval(line)
            if field[0] == "msgstr":
                entry["msgstr"][field[1]] += value
            else:
                entry[field[0]] += value
        else:
            raise AssertionError(f"{path}:{number}: cannot read {raw!r}")
    if entry["msgid"] is not None:
        entries.append(entry)
    header_entry = next(e for e in entries if e["msgid"] == "")
    header = dict(
        item.split(": ", 1) for item in header_entry["msgstr"][0].splitlines() if ": " in item
    )
    return header, [e for e in entries if e["msgid"] != "" and not e["obsolete"]]


@pytest.fixture(scope="module")
def catalogue():
    return parse_po(PO_FILE)


def plural_count(header: dict) -> int:
    return int(re.search(r"nplurals=(\d+)", header["Plural-Forms"]).group(1))


@pytest.mark.nodb
def test_the_spanish_catalogue_declares_spanish_and_its_plural_rule(catalogue):
    header, entries = catalogue
    assert header["Language"] == "es"
    assert "charset=UTF-8" in header["Content-Type"]
    assert plural_count(header) >= 2
    assert len(entries) > 500, (
        "the catalogue looks truncated; run makemessages from the project root"
    )


@pytest.mark.nodb
def test_every_msgid_has_a_reviewed_spanish_translation(catalogue):
    header, entries = catalogue
    nplurals = plural_count(header)
    problems = []
    for e in entries:
        where = f"django.po:{e['line']} {e['msgid']!r}"
        if "fuzzy" in e["flags"]:
            problems.append(f"{where}: still marked fuzzy")
        expected = range(nplurals) if e["msgid_plural"] is not None else range(1)
        for index in expected:
            text = e["msgstr"].get(index, "")
            if not text.strip():
                problems.append(f"{where}: msgstr[{index}] is empty")
        if (
            e["msgid_plural"] is None
            and e["msgstr"].get(0) == e["msgid"]
            and e["msgid"] not in SAME_IN_SPANISH
        ):
            problems.append(f"{where}: left in English")
    assert not problems, "untranslated entries:\n" + "\n".join(problems)


@pytest.mark.nodb
def test_translations_keep_placeholders_markup_and_surrounding_whitespace(catalogue):
    _, entries = catalogue
    problems = []
    for e in entries:
        sources = {0: e["msgid"]}
        for index, text in e["msgstr"].items():
            source = e["msgid"] if index == 0 or e["msgid_plural"] is None else e["msgid_plural"]
            sources[index] = source
            if not text:
                continue
            where = f"django.po:{e['line']} {e['msgid']!r} msgstr[{index}]"
            if sorted(set(PLACEHOLDER.findall(source))) != sorted(set(PLACEHOLDER.findall(text))):
                problems.append(
                    f"{where}: placeholders {PLACEHOLDER.findall(source)} became {PLACEHOLDER.findall(text)}"
                )
            if sorted(TAG.findall(source)) != sorted(TAG.findall(text)):
                problems.append(f"{where}: HTML markup changed")
            if (source[:1].isspace(), source[-1:].isspace()) != (
                text[:1].isspace(),
                text[-1:].isspace(),
            ):
                problems.append(f"{where}: leading/trailing whitespace changed")
    assert not problems, "\n".join(problems)


@pytest.mark.nodb
def test_the_committed_mo_file_matches_the_po_file(catalogue):
    """CI may have no gettext, so the compiled catalogue is committed: it must not lag behind."""
    _, entries = catalogue
    with MO_FILE.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = []
    for e in entries:
        context = e["msgctxt"]
        if e["msgid_plural"] is None:
            got = (
                compiled.pgettext(context, e["msgid"]) if context else compiled.gettext(e["msgid"])
            )
            want = e["msgstr"][0]
        else:
            args = (e["msgid"], e["msgid_plural"], 5)
            got = compiled.npgettext(context, *args) if context else compiled.ngettext(*args)
            want = e["msgstr"][compiled.plural(5)]
        if got != want:
            stale.append(f"{e['msgid']!r}: .mo has {got!r}, .po has {want!r}")
    assert not stale, "django.mo is stale; run manage.py compilemessages:\n" + "\n".join(stale[:20])


# --- pages ---------------------------------------------------------------------------------------

ATTRIBUTES = re.compile(
    r'\b(?:title|placeholder|aria-label|alt|data-(?:confirm|busy|empty|all|some|typing-text|offline-text))="([^"]*)"'
)


def visible_texts(body: str) -> set[str]:
    """Text nodes and user-facing attribute values, unescaped and stripped."""
    body = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", body)
    texts = set(ATTRIBUTES.findall(body))
    texts.update(re.sub(r"<[^>]+>", "\n", body).split("\n"))
    return {html.unescape(t).strip() for t in texts if t.strip()}


@pytest.fixture
def english_only_labels(catalogue):
    """English msgids whose Spanish text differs and that are no Spanish text themselves."""
    _, entries = catalogue
    spanish = {text for e in entries for text in e["msgstr"].values()}
    labels = set()
    for e in entries:
        for source in (e["msgid"], e["msgid_plural"]):
            if (
                source
                and source not in SAME_IN_SPANISH
                and source not in spanish
                and "%" not in source
            ):
                labels.add(source)
    return labels


@pytest.fixture
def spanish_desk(org):
    """An administrator who reads Spanish, one waiting and one answered conversation."""
    org.admin.language = "es"
    org.admin.save(update_fields=["language"])
    waiting = f.client_message(org.conn, "ana", "Hola, ¿hay alguien?", when=f.at(0)).conversation
    answered = f.client_message(org.conn, "bob", "Tengo una duda", when=f.at(10)).conversation
    services.take(answered.pk, f.act(org.op1), now=f.at(30))
    services.reply(answered.pk, f.act(org.op1), "Claro, dígame", now=f.at(60))
    org.waiting, org.answered = waiting, answered
    return org


PAGES = {
    "/contact-center/conversations/": {
        "spanish": [
            "Conversaciones",
            "El cliente espera la respuesta del agente",
            "El agente respondió",
            "Tiempo de respuesta del agente",
            "Esperando a que el agente responda",
            "Duración de la conversación",
            "Duración antes del cierre del agente",
            "Filtros guardados",  # the filter form and the column picker load when opened
            "Amplia",
            "Empleado responsable",
            "Canal abierto",
            "Exportar a Excel",
        ],
        "english": [
            "Conversations",
            "The client is waiting for the agent's answer",
            "The agent responded",
            "Agent response time",
            "Presets",
            "Comfortable",
            "Responsible employee",
            "Export to Excel",
            "Log out",
        ],
    },
    "/contact-center/workspace/": {
        "spanish": ["Cola", "Mis conversaciones", "Transferir la conversación", "Mi estado"],
        "english": ["Queue and my conversations", "My conversations", "Transfer the conversation"],
    },
    "/contact-center/statistics/": {
        "spanish": [
            "Estadísticas",
            "Cifras clave",
            "Carga por canal",
            "Nivel de servicio",
            "Índice de satisfacción",
        ],
        "english": ["Key figures", "Channel load", "Satisfaction rate", "Busiest hours"],
    },
    "/crm/leads/": {
        "spanish": ["Prospectos", "Contactos", "Empresas", "Negocios", "Actividades"],
        "english": ["Leads", "Companies", "Deals", "Activities", "Nothing found."],
    },
}


@pytest.mark.parametrize("path", list(PAGES))
def test_a_spanish_speaking_employee_sees_the_pages_in_spanish(
    spanish_desk, client, english_only_labels, path
):
    client.force_login(spanish_desk.admin)
    response = client.get(path, HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == 200
    assert response["Content-Language"] == "es"
    texts = visible_texts(response.content.decode())
    page = " \n ".join(texts)
    for phrase in PAGES[path]["spanish"]:
        assert phrase in page, f"{phrase!r} missing on {path}"
    for phrase in PAGES[path]["english"]:
        assert phrase not in texts, f"English {phrase!r} on the Spanish {path}"
    leftovers = sorted(texts & english_only_labels)
    assert not leftovers, f"English labels on the Spanish {path}: {leftovers}"


def test_the_employee_language_wins_over_the_browser(spanish_desk, client):
    client.force_login(spanish_desk.admin)
    html_text = client.get(
        "/contact-center/conversations/", HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert "El cliente espera la respuesta del agente" in html_text


def test_an_employee_without_a_language_gets_the_browser_language(spanish_desk, client):
    spanish_desk.supervisor.language = ""
    spanish_desk.supervisor.save(update_fields=["language"])
    client.force_login(spanish_desk.supervisor)
    spanish = client.get("/contact-center/conversations/", HTTP_ACCEPT_LANGUAGE="es-ES,es;q=0.9")
    english = client.get("/contact-center/conversations/", HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9")
    assert "Filtros guardados" in spanish.content.decode()
    assert "Presets" in english.content.decode()
    assert "Filtros guardados" not in english.content.decode()


def test_the_login_page_follows_the_browser_language(db, client):
    response = client.get("/login/", HTTP_ACCEPT_LANGUAGE="es")
    texts = visible_texts(response.content.decode())
    assert {"Iniciar sesión", "Nombre de usuario", "Contraseña", "Idioma"} <= texts
    assert not {"Log in", "Username", "Password"} & texts
    english = visible_texts(client.get("/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode())
    assert {"Log in", "Username", "Password"} <= english


def test_the_chat_widget_speaks_the_visitors_language(org, client):
    chat = f.connection(org.line, "livechat")
    body = client.get(f"/widget/{chat.public_key}.js", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Escriba un mensaje" in body
    assert "Write a message" not in body


def test_server_side_messages_are_translated_for_the_active_language(db):
    from convodesk.conversations.lifecycle import SIMPLE_LABELS

    with translation.override("es"):
        labels = {str(label) for label in SIMPLE_LABELS.values()}
    assert labels == {
        "El cliente espera la respuesta del agente",
        "El agente respondió",
        "Conversación cerrada",
    }
