"""SPEC "Access permissions" / DESIGN rule 2: every read and write path obeys `visible_to`.

One organisation, seven actors, three conversations. For each path the matrix states exactly
what each actor sees or may do; a refusal is "not found" (404), a login redirect for an anonymous
page, a 401 for an anonymous API call, and the refused body never names the hidden client nor
quotes its messages. The same world proves that client-supplied text is escaped everywhere.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from html import unescape

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings
from django.test import Client

from convodesk.accounts.models import Role
from convodesk.conversations import services
from convodesk.conversations.jobs import ExportJob
from convodesk.conversations.models import Conversation, FilterPreset
from convodesk.crm.models import Activity
from tests import factories as f
from tests.api.conftest import Api, token_for

# Client-supplied text: A's client carries the XSS payloads; every name and text is unique so
# that "absent from the body" really means the hidden conversation leaked nothing.
XSS_NAME = "<script>alert(1)</script>"
XSS_TEXT = "<img src=x onerror=alert(1)>"
XSS_EMPLOYEE = "<script>alert(2)</script>"
NAME = {"a": XSS_NAME + "Alfa-Secretname", "b": "Bravo-Secretname", "q": "Quebec-Secretname"}
TEXT = {"a": XSS_TEXT + " alfa-secret-text", "b": "bravo-secret-text", "q": "quebec-secret-text"}
MARKERS = {
    "a": ("Alfa-Secretname", "alfa-secret-text", "alert(1)"),
    "b": ("Bravo-Secretname", "bravo-secret-text"),
    "q": ("Quebec-Secretname", "quebec-secret-text"),
}
EMPLOYEE_NAME = {"op_a": XSS_EMPLOYEE + "Alfa-Operatorname", "op_b": "Bravo-Operatorname"}

ACTORS = ("anon", "op_a", "op_b", "sup_a", "sup_b", "admin", "integ")
EMPLOYEES = ("op_a", "op_b", "sup_a", "sup_b", "admin")
# view / export / history / stats: the conversations each actor may read
SEES = {
    "anon": set(),
    "op_a": {"a", "q"},  # Manager (own): the one A holds and the one offered to A
    "op_b": {"b"},
    "sup_a": {"a", "q"},  # department level: the own sets of A's department
    "sup_b": {"b"},
    "admin": {"a", "b", "q"},
    "integ": {"a", "b", "q"},  # an integration token with the Chief executive role
}
KEYS = ("a", "b", "q")
HIDDEN_PAIRS = [(actor, key) for actor in EMPLOYEES for key in KEYS if key not in SEES[actor]]
VISIBLE_PAIRS = [(actor, key) for actor in EMPLOYEES for key in KEYS if key in SEES[actor]]
LIST_COLUMNS = [
    "id",
    "status",
    "client",
    "excerpt",
    "responsible",
    "line",
    "started_at",
    "supervisor_rating",
]


class World:
    def __init__(self):
        self.users: dict[str, object] = {}
        self.ids: dict[str, int] = {}
        self.lines: dict[str, object] = {}
        self.sessions: dict[str, str] = {}
        self.tokens: dict[str, str] = {}

    def pk(self, key: str) -> int:
        return self.ids[key]

    def hidden_markers(self, actor: str) -> list[str]:
        return [m for k in KEYS if k not in SEES[actor] for m in MARKERS[k]]

    def client(self, actor: str) -> Client:
        """A client with the actor's session: logged in once per world, each client given a
        cookie jar of its own (a request that logs out or rotates the session leaves the next
        client as it was)."""
        client = Client()
        if actor != "anon":
            if actor not in self.sessions:
                client.force_login(self.users[actor])
                self.sessions[actor] = client.cookies[django_settings.SESSION_COOKIE_NAME].value
            client.cookies[django_settings.SESSION_COOKIE_NAME] = self.sessions[actor]
        return client

    def api(self, actor: str) -> Api:
        """The actor's API token, issued once per world."""
        if actor != "anon" and actor not in self.tokens:
            self.tokens[actor] = token_for(self.users[actor])
        return Api(self.tokens.get(actor))


def build_world() -> World:
    w = World()
    f.role("Manager")  # installs the default roles (a transactional test may have flushed them)
    dep_a, dep_b = f.department("Security A"), f.department("Security B")
    supervisor_role = Role.objects.create(
        name="Security supervisor",
        view_conversations=20,
        view_history=20,
        view_statistics=20,
        act=20,
        rate=20,
        export=30,
    )
    columns = {"conversation_list": LIST_COLUMNS}
    users = w.users
    users["op_a"] = f.employee(
        "sec-op-a",
        departments=[dep_a],
        roles=["Manager"],
        display_name=EMPLOYEE_NAME["op_a"],
        column_preferences=columns,
    )
    users["op_b"] = f.employee(
        "sec-op-b",
        departments=[dep_b],
        roles=["Manager"],
        display_name=EMPLOYEE_NAME["op_b"],
        column_preferences=columns,
    )
    for name, dep in (("sup_a", dep_a), ("sup_b", dep_b)):
        users[name] = f.employee(
            f"sec-{name}",
            departments=[dep],
            roles=["Manager", supervisor_role],
            column_preferences=columns,
        )
    users["admin"] = f.employee("sec-admin", superuser=True, column_preferences=columns)
    users["integ"] = f.integration("security")
    line_a = f.line("Alfa-Line", members=[users["op_a"]])
    line_b = f.line("Bravo-Line", members=[users["op_b"]])
    w.lines = {"a": line_a, "b": line_b}
    w.conns = {"a": f.connection(line_a, "api"), "b": f.connection(line_b, "api")}
    for key, conn, holder in (("a", "a", "op_a"), ("b", "b", "op_b"), ("q", "a", None)):
        conv = f.client_message(
            w.conns[conn], f"sec-client-{key}", TEXT[key], name=NAME[key]
        ).conversation
        if holder:
            services.take(conv.pk, f.act(users[holder]))
            services.reply(conv.pk, f.act(users[holder]), f"reply-{key}")
        w.ids[key] = conv.pk
    offered = Conversation.objects.get(pk=w.ids["q"]).participants.filter(offered_now=True)
    assert list(offered.values_list("employee_id", flat=True)) == [users["op_a"].pk]
    return w


@pytest.fixture
def world(db):
    return build_world()


def body_of(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def assert_no_leak(text: str, world: World, actor: str, keys=KEYS):
    for key in keys:
        if key in SEES[actor]:
            continue
        for marker in MARKERS[key]:
            assert marker not in text, f"{actor} was shown {marker!r} of hidden conversation {key}"


def assert_refused(response, world: World, actor: str, keys=KEYS):
    body = body_of(response)
    if actor == "anon":
        assert response.status_code == 302 and "/login/" in response["Location"], response
    else:
        assert response.status_code == 404, (response.status_code, body[:500])
    assert_no_leak(body, world, actor, keys)


def assert_api_refused(status_body, world: World, actor: str):
    status, body = status_body
    assert status == (401 if actor == "anon" else 404), (status, body)
    assert_no_leak(json.dumps(body), world, actor)


def xlsx_text(content: bytes) -> str:
    """Every string of an .xlsx (shared strings and inline strings), unescaped."""
    with zipfile.ZipFile(io.BytesIO(content)) as book:
        parts = [book.read(n).decode() for n in book.namelist() if n.endswith(".xml")]
    return unescape(" ".join(parts))


def row_ids(html: str) -> set[int]:
    return {int(pk) for pk in re.findall(r'<tr id="row-(\d+)"', html)}


def tab_counts(html: str) -> dict[str, str]:
    """Tab label -> count shown on it."""
    found = re.findall(
        r'class="tab[^"]*"[^>]*>\s*(?:<span[^>]*>[^<]*</span>)?([^<]+?)\s*'
        r'<span class="tab-count">([^<]+)</span>',
        html,
    )
    return {label.strip(): count.strip() for label, count in found}


def expected(world: World, actor: str) -> set[int]:
    return {world.pk(k) for k in SEES[actor]}


# The list, its counts, tabs, presets and row partials ------------------------------------


@pytest.mark.parametrize("actor", ("op_a", "op_b", "sup_a", "sup_b", "admin"))
def test_the_list_shows_exactly_the_visible_rows_and_counts_only_them(world, actor):
    FilterPreset.objects.create(
        owner=world.users["admin"], name="Everything shared", query="", shared=True
    )
    response = world.client(actor).get("/contact-center/conversations/?view=all")
    html = body_of(response)
    assert response.status_code == 200
    assert row_ids(html) == expected(world, actor)
    n = len(SEES[actor])
    counts = tab_counts(html)
    assert counts.get("All") == str(n), counts
    assert counts.get("Everything shared") == str(n), counts  # an admin's preset, my rows only
    assert re.search(rf'<strong class="count-value">{n}</strong>', html), "toolbar count"
    assert_no_leak(html, world, actor)


@pytest.mark.parametrize(("actor", "key"), HIDDEN_PAIRS)
def test_searching_the_list_for_a_hidden_client_finds_nothing(world, actor, key):
    name = MARKERS[key][0]
    for param in ("q", "client"):
        html = body_of(world.client(actor).get(f"/contact-center/conversations/?{param}={name}"))
        assert row_ids(html) == set()
        assert tab_counts(html).get("All") == str(len(SEES[actor]))
        assert re.search(r'<strong class="count-value">0</strong>', html)
    client_id = Conversation.objects.get(pk=world.pk(key)).client_id
    for query in (f"id={world.pk(key)}", f"client_id={client_id}"):
        html = body_of(world.client(actor).get(f"/contact-center/conversations/?{query}"))
        assert row_ids(html) == set()
        assert_no_leak(html, world, actor)
        html = body_of(world.client(actor).get(f"/contact-center/statistics/?{query}"))
        assert_no_leak(html, world, actor)
        status, page = world.api(actor).get("/conversations", dict([query.split("=")]))
        assert status == 200 and page["items"] == [] and page["count"] == 0


def test_an_anonymous_visitor_is_sent_to_the_login_page(world):
    for path in (
        "/contact-center/conversations/",
        "/contact-center/statistics/",
        "/contact-center/workspace/",
        "/contact-center/conversations/export/",
    ):
        assert_refused(world.client("anon").get(path), world, "anon")


# Every page and action about one conversation, as (method, path, sent by htmx).
ONE_CONVERSATION_ROUTES = [
    ("get", "/contact-center/conversations/{pk}/history/", False),
    ("post", "/contact-center/conversations/{pk}/end/", False),
    ("post", "/contact-center/conversations/{pk}/end/", True),
    ("post", "/contact-center/conversations/{pk}/spam/", True),
    ("get", "/contact-center/conversations/{pk}/rate/", False),
    ("post", "/contact-center/conversations/{pk}/rate/", True),
    ("get", "/contact-center/conversations/{pk}/start/", False),
    ("post", "/contact-center/conversations/{pk}/start/", False),
    ("get", "/contact-center/workspace/c/{pk}/", False),
    ("post", "/contact-center/workspace/c/{pk}/take/", True),
    ("post", "/contact-center/workspace/c/{pk}/skip/", True),
    ("post", "/contact-center/workspace/c/{pk}/reply/", True),
    ("post", "/contact-center/workspace/c/{pk}/close/", True),
    ("post", "/contact-center/workspace/c/{pk}/spam/", True),
    ("post", "/contact-center/workspace/c/{pk}/pin/", True),
    ("post", "/contact-center/workspace/c/{pk}/transfer/", True),
    ("get", "/crm/conversations/{pk}/rebind/", False),
    ("post", "/crm/conversations/{pk}/rebind/", False),
]


@pytest.mark.parametrize(("actor", "key"), [*HIDDEN_PAIRS, *[("anon", k) for k in KEYS]])
def test_every_page_about_one_hidden_conversation_answers_not_found(world, actor, key):
    """Each route in turn on one world (a refused request changes nothing, which is checked
    after each, so the next one finds the world as it was)."""
    data = {
        "text": "intruder",
        "rating": "5",
        "employee": str(world.users["op_a"].pk),
        "entity_type": "contact",
        "entity_id": "1",
        "join": "1",
    }
    client = world.client(actor)
    for method, path, htmx in ONE_CONVERSATION_ROUTES:
        before = Conversation.objects.values_list("status", "responsible_id", "pinned").get(
            pk=world.pk(key)
        )
        headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
        url = path.format(pk=world.pk(key))
        response = (
            client.get(url, **headers) if method == "get" else client.post(url, data, **headers)
        )
        try:
            assert_refused(response, world, actor, keys=[key])
        except AssertionError as failed:
            raise AssertionError(f"{method.upper()} {url} (htmx: {htmx}): {failed}") from None
        after = Conversation.objects.values_list("status", "responsible_id", "pinned").get(
            pk=world.pk(key)
        )
        assert after == before, f"a refused {method.upper()} {url} changed the conversation"


def test_the_workspace_says_not_found_for_a_hidden_conversation_and_lists_only_mine(world):
    html = body_of(world.client("op_b").get(f"/contact-center/workspace/?c={world.pk('a')}"))
    assert "not found" in html
    assert_no_leak(html, world, "op_b")
    html = body_of(world.client("op_a").get("/contact-center/workspace/"))
    assert "Alfa-Secretname" in html and "Quebec-Secretname" in html  # mine and my queue
    assert_no_leak(html, world, "op_a")


@pytest.mark.parametrize(("actor", "key"), VISIBLE_PAIRS)
def test_the_history_of_a_visible_conversation_shows_its_transcript(world, actor, key):
    response = world.client(actor).get(f"/contact-center/conversations/{world.pk(key)}/history/")
    html = body_of(response)
    assert response.status_code == 200
    assert MARKERS[key][1] in html
    assert_no_leak(html, world, actor)


def test_a_manager_may_not_rate_even_a_conversation_of_their_own(world):
    client = world.client("op_a")
    pk = world.pk("a")
    assert client.get(f"/contact-center/conversations/{pk}/rate/").status_code == 404
    client.post(f"/contact-center/conversations/{pk}/rate/", {"rating": "5"})
    assert Conversation.objects.get(pk=pk).supervisor_rating is None
    html = body_of(world.client("op_a").get("/contact-center/conversations/?view=all"))
    assert "data-rate" not in html  # no inline stars editor offered
    html = body_of(world.client("sup_a").get("/contact-center/conversations/?view=all"))
    assert "data-rate" in html


def test_seeing_a_row_in_the_list_does_not_open_its_transcript_anywhere(world):
    """view conversations = department but view history = own: rows yes, transcripts no."""
    role = Role.objects.create(name="List reader", view_conversations=20, view_history=10, act=10)
    reader = f.employee(
        "sec-reader", departments=world.users["op_a"].departments.all(), roles=[role]
    )
    client = Client()
    client.force_login(reader)
    api = Api(token_for(reader))
    pk = world.pk("a")
    assert row_ids(body_of(client.get("/contact-center/conversations/?view=all"))) == {
        world.pk("a"),
        world.pk("q"),
    }
    assert client.get(f"/contact-center/conversations/{pk}/history/").status_code == 404
    assert api.get(f"/conversations/{pk}/messages")[0] == 403
    assert api.get(f"/conversations/{pk}/events")[0] == 403
    for path in (f"/contact-center/workspace/c/{pk}/", f"/contact-center/workspace/?c={pk}"):
        html = body_of(client.get(path))
        assert "reply-a" not in html, path  # the employee's reply: transcript only


def test_the_event_feed_gives_a_list_reader_no_transcript_details(world):
    """The feed may tell a list-only reader that a row changed, not what was written in it."""
    role = Role.objects.create(name="Feed reader", view_conversations=20, view_history=10, act=10)
    reader = f.employee(
        "sec-feed", departments=[world.users["op_a"].departments.first()], roles=[role]
    )
    services.transfer(
        world.pk("a"),
        f.act(world.users["admin"]),
        to_employee=world.users["op_a"],
        comment="transfer-secret-comment",
    )
    status, feed = Api(token_for(reader)).get("/events", {"after": 0, "limit": 1000})
    assert status == 200
    assert {e["conversation_id"] for e in feed["items"]} == {world.pk("a"), world.pk("q")}
    assert "transfer-secret-comment" not in json.dumps(feed)
    status, feed = world.api("op_a").get("/events", {"after": 0, "limit": 1000})
    assert "transfer-secret-comment" in json.dumps(feed)  # A may read A's history


# Export -----------------------------------------------------------------------------------


@pytest.mark.parametrize("actor", ("op_a", "op_b", "sup_a", "sup_b", "admin"))
def test_the_excel_export_holds_exactly_the_visible_rows(world, actor):
    response = world.client(actor).get("/contact-center/conversations/export/?view=all")
    assert response.status_code == 200, body_of(response)[:300]
    text = xlsx_text(b"".join(response.streaming_content))
    for key in KEYS:
        assert (MARKERS[key][0] in text) == (key in SEES[actor]), (actor, key)
    assert_no_leak(text, world, actor)


@pytest.mark.parametrize("actor", ("anon", "op_a", "op_b", "sup_a", "integ", "admin"))
def test_the_api_export_holds_exactly_the_visible_rows(world, actor):
    api = world.api(actor)
    response = api.client.get(
        "/api/v1/conversations/export.xlsx",
        {"columns": "id,client,excerpt"},
        **api.headers(None),
    )
    if actor == "anon":
        assert response.status_code == 401
        return
    assert response.status_code == 200, body_of(response)[:300]
    text = xlsx_text(b"".join(response.streaming_content))
    for key in KEYS:
        assert (MARKERS[key][0] in text) == (key in SEES[actor]), (actor, key)


@pytest.mark.parametrize("actor", ("op_a", "sup_a", "admin"))
def test_someone_elses_export_job_does_not_exist_for_me(world, actor):
    job = ExportJob.objects.create(owner=world.users["op_b"], params={}, columns=["id"])
    for path in (
        f"/contact-center/conversations/exports/{job.pk}/",
        f"/contact-center/conversations/exports/{job.pk}/download/",
    ):
        assert world.client(actor).get(path).status_code == 404
    html = body_of(world.client(actor).get("/contact-center/conversations/exports/"))
    assert str(job.pk) not in html
    api = world.api(actor)
    assert api.get(f"/exports/{job.pk}")[0] == 404
    assert api.get(f"/exports/{job.pk}/file")[0] == 404
    assert (
        world.client("op_b").get(f"/contact-center/conversations/exports/{job.pk}/").status_code
        == 200
    )


def test_a_background_export_holds_only_its_owners_rows_and_only_its_owner_downloads_it(
    world, settings, tmp_path
):
    settings.TASKS = {
        "default": {
            **settings.TASKS["default"],
            "BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
        }
    }
    settings.EXPORT_ROOT = tmp_path
    settings.CONVODESK = {**settings.CONVODESK, "EXPORT_BACKGROUND_ROWS": 0}
    response = world.client("op_a").post("/contact-center/conversations/export/?view=all")
    assert response.status_code == 302
    job = ExportJob.objects.get(owner=world.users["op_a"])
    assert job.ready, job.error
    download = f"/contact-center/conversations/exports/{job.pk}/download/"
    text = xlsx_text(b"".join(world.client("op_a").get(download).streaming_content))
    assert "Alfa-Secretname" in text and "Quebec-Secretname" in text
    assert_no_leak(text, world, "op_a")
    for actor in ("op_b", "sup_b", "admin"):
        assert world.client(actor).get(download).status_code == 404
        assert world.api(actor).get(f"/exports/{job.pk}/file")[0] == 404


# The REST API -----------------------------------------------------------------------------


@pytest.mark.parametrize("actor", ACTORS)
def test_the_api_list_and_event_feed_hold_exactly_the_visible_conversations(world, actor):
    api = world.api(actor)
    status, page = api.get("/conversations", {"columns": "id,client,excerpt"})
    if actor == "anon":
        assert status == 401
        assert api.get("/events", {"after": 0})[0] == 401
        return
    assert status == 200
    assert {item["id"] for item in page["items"]} == expected(world, actor)
    assert page["count"] == len(SEES[actor])
    assert_no_leak(json.dumps(page), world, actor)
    status, feed = api.get("/events", {"after": 0, "limit": 1000})
    assert status == 200
    assert {e["conversation_id"] for e in feed["items"]} == expected(world, actor)
    assert_no_leak(json.dumps(feed), world, actor)


@pytest.mark.parametrize(("actor", "key"), VISIBLE_PAIRS + [("integ", k) for k in KEYS])
def test_the_api_gives_a_visible_conversation_its_messages_and_events(world, actor, key):
    api = world.api(actor)
    pk = world.pk(key)
    status, item = api.get(f"/conversations/{pk}")
    assert status == 200 and item["id"] == pk
    status, messages = api.get(f"/conversations/{pk}/messages")
    assert status == 200 and TEXT[key] in [m["text"] for m in messages["items"]]
    status, events = api.get(f"/conversations/{pk}/events")
    assert status == 200 and events["items"]


@pytest.mark.parametrize(("actor", "key"), [*HIDDEN_PAIRS, *[("anon", k) for k in KEYS]])
@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("get", "", None),
        ("get", "/messages", None),
        ("get", "/events", None),
        ("post", "/take", None),
        ("post", "/skip", None),
        ("post", "/messages", {"text": "intruder"}),
        ("post", "/transfer", {"line": 0}),
        ("post", "/transfer", {"employee": None, "line": None}),
        ("post", "/close", None),
        ("post", "/spam", None),
        ("post", "/rating", {"rating": 5}),
    ],
)
def test_every_api_call_about_a_hidden_conversation_answers_not_found(
    world, actor, key, method, suffix, body
):
    api = world.api(actor)
    pk = world.pk(key)
    if body == {"line": 0}:
        body = {"line": world.lines["b" if key == "a" else "a"].pk}
    before = Conversation.objects.values_list("status", "responsible_id", "line_id").get(pk=pk)
    path = f"/conversations/{pk}{suffix}"
    result = api.get(path) if method == "get" else api.post(path, body)
    assert_api_refused(result, world, actor)
    after = Conversation.objects.values_list("status", "responsible_id", "line_id").get(pk=pk)
    assert after == before


def test_an_unknown_conversation_and_a_hidden_one_answer_identically(world):
    api = world.api("op_b")
    hidden = world.pk("a")
    missing = Conversation.objects.order_by("-pk").first().pk + 1000
    for suffix, body in (
        ("/take", None),
        ("/close", None),
        ("/rating", {"rating": 3}),
        ("/messages", {"text": "x"}),
    ):
        assert api.post(f"/conversations/{hidden}{suffix}", body) == api.post(
            f"/conversations/{missing}{suffix}", body
        )


@pytest.mark.parametrize(
    ("actor", "key", "status"),
    [
        ("op_a", "a", 403),  # a Manager has no rate permission, even on their own
        ("op_a", "b", 404),
        ("sup_a", "a", 200),
        ("sup_a", "b", 404),
        ("sup_b", "b", 200),
        ("admin", "b", 200),
    ],
)
def test_only_a_supervisor_with_the_rate_permission_rates_through_the_api(
    world, actor, key, status
):
    got, body = world.api(actor).post(f"/conversations/{world.pk(key)}/rating", {"rating": 4})
    assert got == status, body
    rating = Conversation.objects.get(pk=world.pk(key)).supervisor_rating
    assert rating == (4 if status == 200 else None)
    if status != 200:
        assert_no_leak(json.dumps(body), world, actor)


def test_the_queued_conversation_is_taken_only_by_whom_it_is_offered_to(world):
    pk = world.pk("q")
    assert world.api("op_b").post(f"/conversations/{pk}/take")[0] == 404
    status, item = world.api("op_a").post(f"/conversations/{pk}/take")
    assert status == 200 and item["responsible"]["id"] == world.users["op_a"].pk


@pytest.mark.parametrize("actor", ("anon", "op_a", "op_b", "sup_a", "sup_b", "admin", "integ"))
def test_the_statistics_api_counts_only_visible_conversations(world, actor):
    status, report = world.api(actor).get("/stats")
    if actor == "anon":
        assert status == 401
        return
    assert status == 200, report
    text = json.dumps(report)
    assert_no_leak(text, world, actor)
    employees = {row["name"] for row in report["employees"]}
    if actor in ("op_a", "sup_a"):
        assert EMPLOYEE_NAME["op_b"] not in employees
    if actor in ("op_b", "sup_b"):
        assert EMPLOYEE_NAME["op_a"] not in employees
    lines = {row["name"] for row in report["lines"]}
    assert ("Bravo-Line" in lines) == ("b" in SEES[actor])
    assert ("Alfa-Line" in lines) == ("a" in SEES[actor])


def test_starting_a_conversation_through_the_api_requires_a_visible_client(world):
    """A Manager cannot start (or probe) conversations with a client they have never seen."""
    conv_b = Conversation.objects.get(pk=world.pk("b"))
    world.conns["b"].config = {"webhook_url": "http://127.0.0.1:9/hook"}
    world.conns["b"].save()
    body = {"client": conv_b.client_id, "connection": world.conns["b"].pk, "text": "hi"}
    status, answer = world.api("op_a").post("/conversations", body)
    assert status == 422, answer
    assert str(conv_b.pk) not in json.dumps(answer)
    assert_no_leak(json.dumps(answer), world, "op_a")
    assert Conversation.objects.filter(client_id=conv_b.client_id).count() == 1


def test_starting_a_conversation_never_names_a_hidden_open_one(world):
    """The client's earlier conversation is mine; their open one is someone else's: I may learn
    that one exists (it blocks starting a new one), not its number or who holds it."""
    users = world.users
    line_c = f.line("Charlie-Line", members=[users["op_b"]], reopen_window_minutes=0)
    conn_c = f.connection(line_c, "api", config={"webhook_url": "http://127.0.0.1:9/hook"})
    first = f.client_message(conn_c, "sec-client-c", "charlie-first", name="Charlie").conversation
    services.transfer(first.pk, f.act(users["admin"]), to_employee=users["op_a"])
    services.take(first.pk, f.act(users["op_a"]))
    services.close(first.pk, f.act(users["op_a"]))
    second = f.client_message(conn_c, "sec-client-c", "charlie-second").conversation
    assert second.pk != first.pk
    services.take(second.pk, f.act(users["op_b"]))
    assert not Conversation.objects.visible_to(users["op_a"]).filter(pk=second.pk).exists()
    hidden_id = re.compile(rf"#{second.pk}\b")

    html = body_of(world.client("op_a").get(f"/contact-center/conversations/{first.pk}/start/"))
    assert "already has an open conversation" in html
    assert not hidden_id.search(html) and "Bravo-Operatorname" not in html
    assert "charlie-second" not in html
    status, answer = world.api("op_a").post(
        "/conversations", {"client": first.client_id, "connection": conn_c.pk, "text": "hi"}
    )
    assert status == 409 and answer["error"]["code"] == "open_exists"
    assert not hidden_id.search(answer["error"]["message"])
    html = body_of(world.client("admin").get(f"/contact-center/conversations/{first.pk}/start/"))
    assert hidden_id.search(html)  # whoever may see it is told which one


# Statistics page and its tables -------------------------------------------------------------


@pytest.mark.parametrize("actor", ("op_a", "op_b", "sup_a", "sup_b", "admin"))
def test_the_statistics_page_and_its_excel_tables_hide_other_employees_and_lines(world, actor):
    client = world.client(actor)
    html = body_of(client.get("/contact-center/statistics/"))
    assert_no_leak(html, world, actor)
    table = html[html.index('data-table="employees"') :]
    table = table[: table.index("</table>")]
    hidden = [n for who, n in EMPLOYEE_NAME.items() if not SEES[who] & SEES[actor]]
    for name in hidden:
        assert name.rsplit(">", 1)[-1] not in table, (actor, name)
    employees = xlsx_text(client.get("/contact-center/statistics/export/employees.xlsx").content)
    lines = xlsx_text(client.get("/contact-center/statistics/export/lines.xlsx").content)
    for name in hidden:
        assert name.rsplit(">", 1)[-1] not in employees, (actor, name)
    assert ("Bravo-Line" in lines) == ("b" in SEES[actor])
    assert ("Alfa-Line" in lines) == ("a" in SEES[actor] or "q" in SEES[actor])


def test_a_statistics_table_export_writes_names_as_text_never_as_formulas(world):
    """An open channel or employee named like a formula must stay text in Excel."""
    world.lines["a"].name = '=HYPERLINK("http://evil.example","Alfa")'
    world.lines["a"].save()
    world.users["op_a"].display_name = "=1+2"
    world.users["op_a"].save()
    client = world.client("admin")
    for table in ("lines", "employees"):
        content = client.get(f"/contact-center/statistics/export/{table}.xlsx").content
        with zipfile.ZipFile(io.BytesIO(content)) as book:
            sheet = book.read("xl/worksheets/sheet1.xml").decode()
        assert "<f>" not in sheet, table
    assert "evil.example" in xlsx_text(
        client.get("/contact-center/statistics/export/lines.xlsx").content
    )


# CRM cards and the CRM API --------------------------------------------------------------------


def _activity(world, key) -> Activity:
    return Activity.objects.get(conversation_id=world.pk(key))


@pytest.mark.parametrize("actor", ("op_a", "op_b", "sup_a", "sup_b", "admin"))
def test_a_crm_card_lists_only_the_conversations_its_viewer_may_see(world, actor):
    for key in KEYS:
        activity = _activity(world, key)
        owner = f"/crm/{activity.owner_type}s/{activity.owner_id}/".replace("companys", "companies")
        for url in (owner, f"/crm/activities/{activity.pk}/"):
            response = world.client(actor).get(url)
            if key not in SEES[actor]:  # bound only to a hidden conversation: not found (CRM scope)
                assert_refused(response, world, actor, keys=[key])
                continue
            html = body_of(response)
            listed = {int(pk) for pk in re.findall(r'data-conversation="(\d+)"', html)}
            assert listed == {world.pk(key)}, (actor, key, url)


def test_the_crm_api_carries_no_transcript_of_a_hidden_conversation(world):
    """A CRM record bound only to a conversation hidden from the token's user is not found
    (issue 15: CRM scope); a visible one carries no transcript."""
    for kind in ("activities", "leads"):
        record_id = (
            _activity(world, "b").pk if kind == "activities" else _activity(world, "b").owner_id
        )
        assert_api_refused(world.api("op_a").get(f"/crm/{kind}/{record_id}"), world, "op_a")
        status, record = world.api("op_b").get(f"/crm/{kind}/{record_id}")
        assert status == 200, record
        assert "bravo-secret-text" not in json.dumps(record)  # records carry no transcript


# The operator websocket --------------------------------------------------------------------


@pytest.mark.parametrize("actor", ("op_a", "op_b", "sup_a", "admin", "integ", "anon"))
def test_the_operator_socket_replays_only_events_of_visible_conversations(transactional_db, actor):
    from channels.layers import get_channel_layer

    from convodesk.conversations.realtime import conversation_group
    from tests.workspace.sockets import db, drain, operator, receive_until, session_cookie

    world = build_world()
    cookie = None if actor == "anon" else session_cookie(world.users[actor])
    want = expected(world, actor)

    async def scenario():
        comm = operator(cookie, last=0)
        connected, code = await comm.connect()
        if actor in ("anon", "integ"):
            assert not connected and code == 4401
            return
        await receive_until(comm, lambda m: m["type"] == "hello")
        frames = await drain(comm, 1.0)
        await comm.send_json_to({"type": "watch", "ids": sorted(world.ids.values())})
        await comm.send_json_to({"type": "open", "conversation": world.pk("b")})
        frames += await drain(comm, 0.3)
        # Live: the client of B types and writes again; only those who see B hear of it.
        await get_channel_layer().group_send(
            conversation_group(world.pk("b")),
            {
                "type": "conversation.typing",
                "who": "client",
                "conversation": world.pk("b"),
                "sender": "client",
            },
        )
        await db(lambda: f.client_message(world.conns["b"], "sec-client-b", "bravo-secret-text"))()
        frames += await drain(comm, 1.0)
        await comm.disconnect()
        seen = {m["conversation"] for m in frames if "conversation" in m}
        assert seen == want, frames
        typing = {m["conversation"] for m in frames if m["type"] == "typing"}
        assert typing == ({world.pk("b")} & want), frames
        assert_no_leak(json.dumps(frames), world, actor)

    async_to_sync(scenario)()


# Bulk actions ------------------------------------------------------------------------------


def test_bulk_actions_never_touch_a_hidden_conversation(world, settings):
    settings.TASKS = {
        "default": {
            **settings.TASKS["default"],
            "BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
        }
    }
    client = world.client("op_a")
    for data in (
        {"action": "close", "ids": [world.pk("b")]},
        {"action": "spam", "ids": [world.pk("b")]},
        {
            "action": "transfer",
            "ids": [world.pk("b")],
            "transfer_to": f"line:{world.lines['a'].pk}",
        },
        {"action": "close", "all_matching": "1", "filter_query": f"id={world.pk('b')}"},
    ):
        response = client.post("/contact-center/conversations/bulk/", data, follow=True)
        assert response.status_code in (200, 400)
        assert_no_leak(body_of(response), world, "op_a")
    conv = Conversation.objects.get(pk=world.pk("b"))
    assert conv.is_open and conv.line_id == world.lines["b"].pk


def test_someone_elses_bulk_job_and_preset_do_not_exist_for_me(world, settings):
    settings.TASKS = {
        "default": {
            **settings.TASKS["default"],
            "BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
        }
    }
    response = world.client("op_b").post(
        "/contact-center/conversations/bulk/", {"action": "close", "ids": [world.pk("b")]}
    )
    assert response.status_code == 302
    job_url = response["Location"]
    assert world.client("op_b").get(job_url).status_code == 200
    for actor in ("op_a", "sup_a", "admin"):
        assert world.client(actor).get(job_url).status_code == 404
    preset = FilterPreset.objects.create(
        owner=world.users["op_b"], name="Bravo preset", query="q=Bravo-Secretname", shared=True
    )
    for op in ("rename", "delete", "share", "default"):
        response = world.client("op_a").post(
            f"/contact-center/conversations/presets/{preset.pk}/", {"op": op, "name": "mine now"}
        )
        assert response.status_code == 404
    preset.refresh_from_db()
    assert (preset.name, preset.shared) == ("Bravo preset", True)
    html = body_of(world.client("op_a").get(f"/contact-center/conversations/?{preset.query}"))
    assert row_ids(html) == set()  # a shared preset never widens what I see


# XSS ---------------------------------------------------------------------------------------


ESCAPED_NAME = "&lt;script&gt;alert(1)&lt;/script&gt;"
ESCAPED_TEXT = "&lt;img src=x onerror=alert(1)&gt;"
ESCAPED_EMPLOYEE = "&lt;script&gt;alert(2)&lt;/script&gt;"


def _assert_escaped(html: str, *pairs):
    for raw, escaped in pairs:
        assert raw not in html, f"raw {raw!r} in the page"
        assert escaped in html, f"escaped {escaped!r} missing"


def test_client_text_and_names_are_escaped_on_every_page(world):
    client = world.client("sup_a")
    pk = world.pk("a")
    name, text, employee = (
        (XSS_NAME, ESCAPED_NAME),
        (XSS_TEXT, ESCAPED_TEXT),
        (XSS_EMPLOYEE, ESCAPED_EMPLOYEE),
    )
    html = body_of(client.get("/contact-center/conversations/?view=all"))
    _assert_escaped(html, name, text, employee)  # client, excerpt and responsible columns
    html = body_of(client.get(f"/contact-center/conversations/{pk}/history/"))
    _assert_escaped(html, name, text, employee)
    html = body_of(world.client("op_a").get(f"/contact-center/workspace/c/{pk}/"))
    _assert_escaped(html, name, text)
    html = body_of(world.client("op_a").get(f"/contact-center/workspace/?c={pk}"))
    _assert_escaped(html, name, text)
    html = body_of(client.post(f"/contact-center/conversations/{pk}/end/", HTTP_HX_REQUEST="true"))
    _assert_escaped(html, name)  # the refreshed row partial
    html = body_of(client.get("/contact-center/statistics/"))
    _assert_escaped(html, employee)
    activity = _activity(world, "a")
    html = body_of(client.get(f"/crm/activities/{activity.pk}/"))
    _assert_escaped(html, name, employee)
    owner = f"/crm/{activity.owner_type}s/{activity.owner_id}/"
    html = body_of(client.get(owner))
    _assert_escaped(html, name, employee)
    html = body_of(client.get(f"/crm/conversations/{pk}/rebind/"))
    _assert_escaped(html, name)


# Every route: who may reach it ----------------------------------------------------------------
#
# tests/security/test_route_coverage.py walks every URL pattern, every operation of the OpenAPI
# document and every socket route and message type, and fails when one has no entry here. Each
# entry says who gets through; `test_every_route_lets_in_exactly_whom_the_matrix_names` asserts
# it request by request. "Gets through" means: not refused. Refused is the login redirect for
# an anonymous page, the admin log-in redirect on the settings (Django admin), 401 for an
# anonymous API call, and 403 or 404 otherwise. Anything else (200, a redirect elsewhere, 400,
# 409, 422) is through: the permission check let the request reach the view's own logic.
# The objects: conversation A (held by op_a, in sup_a's department), its CRM records, line A,
# and jobs and presets op_a owns.

PAGE_ACTORS = ("anon", "op_a", "op_b", "sup_a", "admin")
API_ACTORS = (*PAGE_ACTORS, "integ")
EVERYONE = frozenset(API_ACTORS)
STAFF = frozenset({"op_a", "op_b", "sup_a", "admin"})  # every employee's session
TOKENS = frozenset({"op_a", "op_b", "sup_a", "admin", "integ"})  # every API token
SEE_A = frozenset({"op_a", "sup_a", "admin", "integ"})  # whoever sees conversation A
# Taking, skipping, spam and starting are an employee's work: an integration token gets 403.
EMPLOYEES_SEE_A = SEE_A - {"integ"}
NOBODY = frozenset()
SETTINGS_ADMIN = frozenset({"admin"})
# Provisioning needs the settings permission at "all": the superuser; not the integration's
# Chief executive role (which reads and acts on every conversation but configures nothing).
ADMINS = SETTINGS_ADMIN


class Check:
    """One request of the matrix: `url` is formatted with the route world's ids."""

    def __init__(
        self, kind, reach, url, method="get", data=None, htmx=False, refusals=(), files=False
    ):
        assert kind in ("page", "public", "admin", "api", "secret"), kind
        self.kind, self.reach, self.url = kind, frozenset(reach), url
        self.method, self.data, self.htmx = method, data, htmx
        self.files = files  # an API call sent as multipart/form-data with one small file
        self.refusals = tuple(refusals)  # statuses that also mean "refused" on this route

    def __repr__(self):
        return f"{self.method.upper()} {self.url}"


def page(url, reach, **kw):
    return Check("page", reach, url, **kw)


def api(method, url, reach, data=None, **kw):
    return Check("api", reach, "/api/v1" + url, method=method, data=data, **kw)


CRM_SEGMENTS = ("contacts", "companies", "leads", "deals", "activities")
CRM_CARD = "crm/(?P<segment>contacts|companies|leads|deals|activities)/(?P<pk>[0-9]{1,18})/$"
CRM_LIST = "crm/(?P<segment>contacts|companies|leads|deals|activities)/$"
CRM_SEG = "crm/(?P<segment>contacts|companies|leads|deals|activities)/"
CRM_PK = "(?P<pk>[0-9]{1,18})/"

ROUTE_MATRIX: dict[str, list[Check]] = {
    # Public: the log-in, the language switch, the widget, the API's documents.
    "": [Check("public", EVERYONE - {"integ"}, "/")],
    "login/": [Check("public", EVERYONE - {"integ"}, "/login/")],
    "logout/": [Check("public", EVERYONE - {"integ"}, "/logout/", method="post")],
    "i18n/setlang/": [
        Check("public", EVERYONE - {"integ"}, "/i18n/setlang/", "post", {"language": "es"})
    ],
    "widget/demo/": [Check("public", EVERYONE - {"integ"}, "/widget/demo/")],
    # An invitation link: public (its token is the key); a made-up one says it no longer works.
    "account/welcome/<uidb64>/<token>/": [
        Check("public", EVERYONE - {"integ"}, "/account/welcome/MQ/set-password/")
    ],
    # Probes (convodesk/ops): no session needed; /readyz names no data. /metrics is open to the
    # allowed networks (by default the machine itself, where the test client comes from) or a
    # token; tests/ops/test_health.py proves the refusal from anywhere else.
    "healthz": [Check("public", EVERYONE - {"integ"}, "/healthz")],
    "readyz": [Check("public", EVERYONE - {"integ"}, "/readyz")],
    "metrics": [Check("public", EVERYONE - {"integ"}, "/metrics")],
    "widget/<str:key>.js": [Check("public", EVERYONE - {"integ"}, "/widget/{widget_key}.js")],
    "api/v1/openapi.json": [Check("public", EVERYONE, "/api/v1/openapi.json")],
    "api/v1/docs": [Check("public", EVERYONE, "/api/v1/docs")],
    # The API's root answers 404 (no index page) to everyone.
    "api/v1/": [Check("api", NOBODY, "/api/v1/")],
    # Answers 404 JSON to everyone: there is nothing to reach.
    "api/v1/<path:rest>": [Check("api", NOBODY, "/api/v1/no/such/endpoint")],
    # The Telegram webhook takes the connection's secret header, which none of these carry.
    "connectors/telegram/<int:connection_id>/webhook/": [
        Check("secret", NOBODY, "/connectors/telegram/{telegram}/webhook/", "post", {})
    ],
    # A reply's file for a client without an account: the signed link is the key (issue 19);
    # a made-up one opens nothing, for anyone (tests/channels/test_composer_files.py).
    "connectors/files/<str:token>/": [Check("secret", NOBODY, "/connectors/files/1.0:made-up/")],
    # Own account pages: every employee, about themselves.
    "account/language/": [
        page("/account/language/", STAFF, method="post", data={"language": "es"})
    ],
    "account/tokens/": [page("/account/tokens/", STAFF)],
    # The product's settings: roles with the settings permission (the superuser here).
    "settings/": [page("/settings/", SETTINGS_ADMIN)],
    "settings/audit/": [page("/settings/audit/", SETTINGS_ADMIN)],
    # Settings › Open channels (issue 16, item 1)
    "settings/lines/": [page("/settings/lines/", SETTINGS_ADMIN)],
    "settings/lines/new/": [
        page("/settings/lines/new/", SETTINGS_ADMIN),
        page("/settings/lines/new/", SETTINGS_ADMIN, method="post", data={"name": "M"}),
    ],
    "settings/lines/members/search/": [
        page("/settings/lines/members/search/?q=op", SETTINGS_ADMIN, htmx=True)
    ],
    "settings/lines/<int:pk>/": [
        page("/settings/lines/{line}/", SETTINGS_ADMIN),
        page("/settings/lines/{line}/", SETTINGS_ADMIN, method="post", data={"name": "M"}),
    ],
    "settings/lines/<int:pk>/deactivate/": [
        page("/settings/lines/{line}/deactivate/", SETTINGS_ADMIN),
        page("/settings/lines/{line}/deactivate/", SETTINGS_ADMIN, method="post"),
    ],
    "settings/lines/<int:pk>/activate/": [
        page("/settings/lines/{line}/activate/", SETTINGS_ADMIN, method="post")
    ],
    "settings/connections/": [page("/settings/connections/", SETTINGS_ADMIN)],
    "settings/connections/new/": [page("/settings/connections/new/", SETTINGS_ADMIN)],
    "settings/connections/new/<str:kind>/": [
        page("/settings/connections/new/api/", SETTINGS_ADMIN),
        page(
            "/settings/connections/new/api/",
            SETTINGS_ADMIN,
            method="post",
            data={"name": "Matrix", "line": "{line}", "webhook_url": ""},
        ),
    ],
    "settings/connections/<int:pk>/": [
        page("/settings/connections/{connection}/", SETTINGS_ADMIN),
        page(
            "/settings/connections/{connection}/",
            SETTINGS_ADMIN,
            method="post",
            data={"name": "Matrix", "active": "on", "webhook_url": ""},
        ),
    ],
    "settings/connections/bot-pictures/<str:digest>/": [
        page("/settings/connections/bot-pictures/{bot_picture}/", SETTINGS_ADMIN)
    ],
    "settings/connections/<int:pk>/rotate-secret/": [
        page("/settings/connections/{connection}/rotate-secret/", SETTINGS_ADMIN, method="post")
    ],
    "settings/connections/<int:pk>/deliveries/<int:message_id>/retry/": [
        page(
            "/settings/connections/{connection}/deliveries/{message}/retry/",
            SETTINGS_ADMIN,
            method="post",
        )
    ],
    # Settings › People, quick replies, API tokens (issue 16, items 3 and 4)
    "settings/employees/": [page("/settings/employees/?q=sec", SETTINGS_ADMIN)],
    "settings/employees/new/": [page("/settings/employees/new/", SETTINGS_ADMIN)],
    "settings/employees/<int:pk>/": [page("/settings/employees/{op_a}/", SETTINGS_ADMIN)],
    "settings/employees/<int:pk>/deactivate/": [
        page("/settings/employees/{op_a}/deactivate/", SETTINGS_ADMIN),
        page("/settings/employees/{op_a}/deactivate/", SETTINGS_ADMIN, method="post"),
    ],
    "settings/employees/<int:pk>/reactivate/": [
        page("/settings/employees/{op_a}/reactivate/", SETTINGS_ADMIN, method="post")
    ],
    "settings/employees/<int:pk>/invite/": [
        page("/settings/employees/{op_a}/invite/", SETTINGS_ADMIN, method="post")
    ],
    "settings/departments/": [page("/settings/departments/", SETTINGS_ADMIN)],
    "settings/departments/new/": [
        page("/settings/departments/new/", SETTINGS_ADMIN, method="post", data={"name": "N"})
    ],
    "settings/departments/<int:pk>/": [page("/settings/departments/{dep}/", SETTINGS_ADMIN)],
    "settings/roles/": [page("/settings/roles/", SETTINGS_ADMIN)],
    "settings/roles/new/": [page("/settings/roles/new/", SETTINGS_ADMIN)],
    "settings/roles/<int:pk>/": [page("/settings/roles/{role}/", SETTINGS_ADMIN)],
    "settings/quick-replies/": [page("/settings/quick-replies/", SETTINGS_ADMIN)],
    "settings/quick-replies/new/": [
        page(
            "/settings/quick-replies/new/",
            SETTINGS_ADMIN,
            method="post",
            data={"title": "Hi", "text": "Hello"},
        )
    ],
    "settings/quick-replies/<int:pk>/": [
        page("/settings/quick-replies/{quick_reply}/", SETTINGS_ADMIN)
    ],
    "settings/quick-replies/<int:pk>/delete/": [
        page("/settings/quick-replies/{quick_reply}/delete/", SETTINGS_ADMIN, method="post")
    ],
    "settings/tags/": [page("/settings/tags/", SETTINGS_ADMIN)],
    "settings/tags/new/": [
        page(
            "/settings/tags/new/",
            SETTINGS_ADMIN,
            method="post",
            data={"name": "T", "colour": "red"},
        )
    ],
    "settings/tags/<int:pk>/": [page("/settings/tags/{tag}/", SETTINGS_ADMIN)],
    "settings/api-tokens/": [page("/settings/api-tokens/", SETTINGS_ADMIN)],
    "settings/api-tokens/new/": [page("/settings/api-tokens/new/", SETTINGS_ADMIN)],
    "settings/api-tokens/<int:pk>/revoke/": [
        page("/settings/api-tokens/{api_token}/revoke/", SETTINGS_ADMIN, method="post")
    ],
    "settings/bitrix24/": [page("/settings/bitrix24/", SETTINGS_ADMIN)],
    "settings/bitrix24/codes/new/": [page("/settings/bitrix24/codes/new/", SETTINGS_ADMIN)],
    "settings/bitrix24/codes/<int:pk>/revoke/": [
        page("/settings/bitrix24/codes/{b24_code}/revoke/", SETTINGS_ADMIN, method="post")
    ],
    "settings/bitrix24/handlers/new/": [page("/settings/bitrix24/handlers/new/", SETTINGS_ADMIN)],
    "settings/bitrix24/handlers/<int:pk>/": [
        page("/settings/bitrix24/handlers/{b24_handler}/", SETTINGS_ADMIN)
    ],
    "settings/bitrix24/handlers/<int:pk>/rotate/": [
        page("/settings/bitrix24/handlers/{b24_handler}/rotate/", SETTINGS_ADMIN, method="post")
    ],
    "settings/bitrix24/handlers/<int:pk>/delete/": [
        page("/settings/bitrix24/handlers/{b24_handler}/delete/", SETTINGS_ADMIN, method="post")
    ],
    # The seed product's incoming webhooks: only a webhook code gets through (a session does
    # not); with one, the code's employee's visibility applies (tests/bitrix24).
    "rest/(?P<user_id>[^/]+)/(?P<code>[^/]+)/(?P<method>[^/]+?)/?$": [
        Check("secret", NOBODY, "/rest/{op_a}/not-a-code/profile.json", "post", {}),
        Check("secret", NOBODY, "/rest/{op_a}/not-a-code/crm.lead.list.json"),
    ],
    "rest/(?P<rest>.*)$": [Check("secret", NOBODY, "/rest/{op_a}/", "post", {})],
    # The conversation list and what hangs off it: every employee (rows filtered by visible_to).
    "contact-center/conversations/": [page("/contact-center/conversations/", STAFF)],
    "contact-center/conversations/columns/": [
        page(
            "/contact-center/conversations/columns/", STAFF, method="post", data={"columns": ["id"]}
        )
    ],
    "contact-center/conversations/rows/": [
        page("/contact-center/conversations/rows/?ids={conv}", STAFF)
    ],
    "contact-center/conversations/presets/": [
        page("/contact-center/conversations/presets/", STAFF, method="post", data={"name": "P"})
    ],
    # Presets are their owner's (op_a's).
    "contact-center/conversations/presets/<int:pk>/": [
        page(
            "/contact-center/conversations/presets/{preset}/",
            {"op_a"},
            method="post",
            data={"op": "rename", "name": "renamed"},
        )
    ],
    # One conversation: history readers; acting needs act, rating the rate permission.
    "contact-center/conversations/<int:pk>/history/": [
        page("/contact-center/conversations/{conv}/history/", SEE_A)
    ],
    "contact-center/conversations/<int:pk>/attachments/<int:message_id>/<int:index>/": [
        page("/contact-center/conversations/{conv}/attachments/{message}/0/", SEE_A)
    ],
    "contact-center/conversations/<int:pk>/end/": [
        page("/contact-center/conversations/{conv}/end/", SEE_A, method="post", htmx=True)
    ],
    "contact-center/conversations/<int:pk>/spam/": [
        page("/contact-center/conversations/{conv}/spam/", SEE_A, method="post", htmx=True)
    ],
    "contact-center/conversations/<int:pk>/rate/": [
        page("/contact-center/conversations/{conv}/rate/", SEE_A - {"op_a"})
    ],
    "contact-center/conversations/<int:pk>/start/": [
        page("/contact-center/conversations/{conv}/start/", SEE_A)
    ],
    # A row's menu, loaded when it is opened: whoever sees the row.
    "contact-center/conversations/<int:pk>/menu/": [
        page("/contact-center/conversations/{conv}/menu/", SEE_A, htmx=True)
    ],
    # Export: every employee (export permission: Managers export their own rows).
    "contact-center/conversations/export/": [page("/contact-center/conversations/export/", STAFF)],
    "contact-center/conversations/exports/": [
        page("/contact-center/conversations/exports/", STAFF)
    ],
    "contact-center/conversations/exports/notice/": [
        page("/contact-center/conversations/exports/notice/", STAFF)
    ],
    "contact-center/conversations/exports/<uuid:job_id>/": [
        page("/contact-center/conversations/exports/{export}/", {"op_a"})
    ],
    "contact-center/conversations/exports/<uuid:job_id>/download/": [
        page("/contact-center/conversations/exports/{export}/download/", {"op_a"})
    ],
    "contact-center/conversations/bulk/": [
        page(
            "/contact-center/conversations/bulk/",
            STAFF,
            method="post",
            data={"action": "close", "ids": ["{conv}"]},
        )
    ],
    "contact-center/conversations/bulk/targets/": [
        page("/contact-center/conversations/bulk/targets/", STAFF)
    ],
    "contact-center/conversations/bulk/labels/": [
        page("/contact-center/conversations/bulk/labels/?what=tags", STAFF)
    ],
    "contact-center/conversations/bulk/<uuid:job_id>/": [
        page("/contact-center/conversations/bulk/{bulk}/", {"op_a"})
    ],
    # Statistics: every employee (figures limited to what each sees).
    "contact-center/statistics/": [page("/contact-center/statistics/", STAFF)],
    "contact-center/statistics/export/<slug:table>.xlsx": [
        page("/contact-center/statistics/export/lines.xlsx", STAFF)
    ],
    # The workspace: every employee; one conversation's pane and actions: who may act on it.
    "contact-center/workspace/": [page("/contact-center/workspace/", STAFF)],
    "contact-center/workspace/list/": [page("/contact-center/workspace/list/", STAFF)],
    "contact-center/workspace/availability/": [
        page(
            "/contact-center/workspace/availability/",
            STAFF,
            method="post",
            data={"status": "online"},
        )
    ],
    "contact-center/workspace/c/<int:pk>/": [page("/contact-center/workspace/c/{conv}/", SEE_A)],
    "contact-center/workspace/c/<int:pk>/<slug:name>/": [
        page("/contact-center/workspace/c/{conv}/pin/", SEE_A, method="post", htmx=True),
        page(
            "/contact-center/workspace/c/{conv}/reply/",
            SEE_A,
            method="post",
            data={"text": "hello"},
            htmx=True,
        ),
    ],
    # CRM: lists are every employee's (filtered by the CRM rule); a record bound only to
    # conversation A is visible to who sees A (op_b: 404 like a missing one); converting a lead
    # and re-binding a conversation also need act on the conversation.
    "crm/": [page("/crm/", STAFF)],
    CRM_LIST: [page(f"/crm/{segment}/", STAFF) for segment in CRM_SEGMENTS],
    CRM_CARD: [
        page("/crm/activities/{activity}/", SEE_A),
        page("/crm/{owner_segment}/{owner}/", SEE_A),
    ],
    "crm/leads/<int:pk>/convert/": [
        page("/crm/leads/{lead}/convert/", SEE_A, method="post", data={"deal_name": "Deal"})
    ],
    "crm/conversations/<int:conversation_id>/rebind/": [
        page("/crm/conversations/{conv}/rebind/", SEE_A)
    ],
    # A possible match typed into the widget, on conversation A: confirmed by who may act on A
    # and see the record.
    "crm/matches/<int:pk>/confirm/": [page("/crm/matches/{match}/confirm/", SEE_A, method="post")],
    # Issue 20: creating needs a CRM edit level (every employee here has "own"); a new activity
    # belongs to a record the employee may edit; deleting and moving need edit on the record;
    # a deal from a conversation needs act on it; the export needs the export permission.
    CRM_SEG + "new/$": [
        page("/crm/contacts/new/", STAFF),
        page("/crm/companies/new/", STAFF, method="post", data={"title": "Matrix Co"}),
        page("/crm/activities/new/?owner={owner_type}:{owner}", SEE_A),
    ],
    CRM_SEG + "columns/$": [
        page("/crm/contacts/columns/", STAFF, method="post", data={"col": ["id", "name"]})
    ],
    CRM_SEG + "export/$": [page("/crm/contacts/export/", STAFF)],
    CRM_SEG + "presets/$": [
        page("/crm/deals/presets/", STAFF, method="post", data={"name": "P", "query": "q=x"})
    ],
    CRM_SEG + "presets/" + CRM_PK + "delete/$": [
        page("/crm/contacts/presets/{crm_preset}/delete/", {"op_a"}, method="post")
    ],
    CRM_SEG + CRM_PK + "delete/$": [
        page("/crm/{owner_segment}/{owner}/delete/", SEE_A),
        page("/crm/deals/{deal}/delete/", SEE_A, method="post"),
    ],
    "crm/contacts/duplicates/": [page("/crm/contacts/duplicates/", STAFF)],
    "crm/contacts/merge/": [
        page("/crm/contacts/merge/?kept={contact_a}&removed={contact_a2}", SEE_A),
        page(
            "/crm/contacts/merge/",
            SEE_A,
            method="post",
            data={"kept": "{contact_a}", "removed": "{contact_a2}", "name": "removed"},
        ),
    ],
    "crm/companies/duplicates/": [page("/crm/companies/duplicates/", STAFF)],
    "crm/companies/merge/": [
        page("/crm/companies/merge/?kept={company_a}&removed={company_a2}", SEE_A),
        page(
            "/crm/companies/merge/",
            SEE_A,
            method="post",
            data={"kept": "{company_a}", "removed": "{company_a2}", "title": "removed"},
        ),
    ],
    "crm/merges/<int:pk>/undo/": [page("/crm/merges/{crm_merge}/undo/", SEE_A, method="post")],
    # Imports: every employee with a CRM edit level starts one; an import is its owner's alone.
    "crm/imports/": [page("/crm/imports/", STAFF)],
    "crm/imports/<int:pk>/": [page("/crm/imports/{crm_import}/", {"op_a"})],
    "crm/imports/<int:pk>/report/": [page("/crm/imports/{crm_import}/report/", {"op_a"})],
    "crm/deals/board/": [page("/crm/deals/board/", STAFF)],
    "crm/deals/statistics/": [page("/crm/deals/statistics/", STAFF)],
    "crm/deals/<int:pk>/move/": [
        page("/crm/deals/{deal}/move/", SEE_A, method="post", data={"stage": "won"})
    ],
    "crm/conversations/<int:conversation_id>/deal/": [
        page("/crm/conversations/{conv}/deal/", SEE_A, method="post")
    ],
    # Settings › Pipelines (issue 20, item 5)
    "settings/pipelines/": [
        page("/settings/pipelines/", SETTINGS_ADMIN),
        page("/settings/pipelines/", SETTINGS_ADMIN, method="post", data={"name": "Matrix"}),
    ],
    "settings/pipelines/<int:pk>/": [page("/settings/pipelines/{pipeline}/", SETTINGS_ADMIN)],
    "settings/pipelines/<int:pk>/delete/": [
        page("/settings/pipelines/{pipeline}/delete/", SETTINGS_ADMIN, method="post")
    ],
}

# The REST API, one entry per operation of the OpenAPI document ("METHOD /api/v1/path").
API_MATRIX: dict[str, list[Check]] = {
    "GET /api/v1/me": [api("get", "/me", TOKENS)],
    "GET /api/v1/audit": [api("get", "/audit", ADMINS)],
    "PUT /api/v1/me/availability": [api("put", "/me/availability", TOKENS, {"status": "online"})],
    # Provisioning: administrators (the settings permission).
    "GET /api/v1/departments": [api("get", "/departments", ADMINS)],
    "POST /api/v1/departments": [api("post", "/departments", ADMINS, {"name": "D"})],
    "GET /api/v1/departments/{department_id}": [api("get", "/departments/{dep}", ADMINS)],
    "PATCH /api/v1/departments/{department_id}": [
        api("patch", "/departments/{dep}", ADMINS, {"name": "D2"})
    ],
    "GET /api/v1/roles": [api("get", "/roles", ADMINS)],
    "POST /api/v1/roles": [api("post", "/roles", ADMINS, {"name": "R"})],
    "GET /api/v1/roles/{role_id}": [api("get", "/roles/{role}", ADMINS)],
    "PATCH /api/v1/roles/{role_id}": [api("patch", "/roles/{role}", ADMINS, {"name": "R2"})],
    "GET /api/v1/employees": [api("get", "/employees", ADMINS)],
    "POST /api/v1/employees": [api("post", "/employees", ADMINS, {"username": "new-one"})],
    "GET /api/v1/employees/{employee_id}": [api("get", "/employees/{op_a}", ADMINS)],
    "PATCH /api/v1/employees/{employee_id}": [
        api("patch", "/employees/{op_a}", ADMINS, {"display_name": "Renamed"})
    ],
    "GET /api/v1/lines": [api("get", "/lines", ADMINS)],
    "POST /api/v1/lines": [api("post", "/lines", ADMINS, {"name": "L"})],
    "GET /api/v1/lines/{line_id}": [api("get", "/lines/{line}", ADMINS)],
    "PATCH /api/v1/lines/{line_id}": [api("patch", "/lines/{line}", ADMINS, {"name": "L2"})],
    "GET /api/v1/lines/{line_id}/connections": [api("get", "/lines/{line}/connections", ADMINS)],
    "POST /api/v1/lines/{line_id}/connections": [
        api("post", "/lines/{line}/connections", ADMINS, {"kind": "api", "name": "C"})
    ],
    "GET /api/v1/lines/{line_id}/connections/{connection_id}": [
        api("get", "/lines/{line}/connections/{connection}", ADMINS)
    ],
    "PATCH /api/v1/lines/{line_id}/connections/{connection_id}": [
        api("patch", "/lines/{line}/connections/{connection}", ADMINS, {"name": "C2"})
    ],
    "POST /api/v1/lines/{line_id}/connections/{connection_id}/rotate-secret": [
        api("post", "/lines/{line}/connections/{connection}/rotate-secret", ADMINS)
    ],
    # Lists, feeds, statistics and exports: every token (contents filtered by visible_to).
    "GET /api/v1/conversations": [api("get", "/conversations", TOKENS)],
    "GET /api/v1/events": [api("get", "/events", TOKENS)],
    "GET /api/v1/stats": [api("get", "/stats", TOKENS)],
    "GET /api/v1/conversations/export.xlsx": [api("get", "/conversations/export.xlsx", TOKENS)],
    "GET /api/v1/exports/{export_id}": [api("get", "/exports/{export}", {"op_a"})],
    "GET /api/v1/exports/{export_id}/file": [api("get", "/exports/{export}/file", {"op_a"})],
    # Starting a conversation: an employee who sees the client (op_b: 422 on the `client` field,
    # as for an unknown client); integrations start none (403). Here A is open: 409 for the rest.
    "POST /api/v1/conversations": [
        api(
            "post",
            "/conversations",
            EMPLOYEES_SEE_A,
            {"client": "{client}", "connection": "{connection}", "text": "hi"},
            refusals=(422,),
        )
    ],
    # Conversation A: who sees it; rating needs the rate permission (op_a: 403).
    "GET /api/v1/conversations/{conversation_id}": [api("get", "/conversations/{conv}", SEE_A)],
    "GET /api/v1/conversations/{conversation_id}/messages": [
        api("get", "/conversations/{conv}/messages", SEE_A)
    ],
    "GET /api/v1/conversations/{conversation_id}/messages/{message_id}/files/{index}": [
        api("get", "/conversations/{conv}/messages/{message}/files/0", SEE_A)
    ],
    "GET /api/v1/conversations/{conversation_id}/events": [
        api("get", "/conversations/{conv}/events", SEE_A)
    ],
    "POST /api/v1/conversations/{conversation_id}/messages": [
        api("post", "/conversations/{conv}/messages", SEE_A, {"text": "hello"})
    ],
    "POST /api/v1/conversations/{conversation_id}/messages/files": [
        api("post", "/conversations/{conv}/messages/files", SEE_A, {"text": "hi"}, files=True)
    ],
    "POST /api/v1/conversations/{conversation_id}/take": [
        api("post", "/conversations/{conv}/take", EMPLOYEES_SEE_A)
    ],
    "POST /api/v1/conversations/{conversation_id}/skip": [
        api("post", "/conversations/{conv}/skip", EMPLOYEES_SEE_A)
    ],
    "POST /api/v1/conversations/{conversation_id}/transfer": [
        api("post", "/conversations/{conv}/transfer", SEE_A, {"line": "{line_b}"})
    ],
    "POST /api/v1/conversations/{conversation_id}/close": [
        api("post", "/conversations/{conv}/close", SEE_A)
    ],
    "POST /api/v1/conversations/{conversation_id}/tags": [
        api("post", "/conversations/{conv}/tags", SEE_A, {"add": ["{tag}"]})
    ],
    "GET /api/v1/tags": [api("get", "/tags", TOKENS)],
    "GET /api/v1/lines/{line_id}/close-reasons": [
        api("get", "/lines/{line}/close-reasons", TOKENS)
    ],
    "POST /api/v1/conversations/{conversation_id}/spam": [
        api("post", "/conversations/{conv}/spam", EMPLOYEES_SEE_A)
    ],
    "POST /api/v1/conversations/{conversation_id}/rating": [
        api("post", "/conversations/{conv}/rating", SEE_A - {"op_a"}, {"rating": 4})
    ],
    # Ingestion takes the connection's own secret: no employee or integration token passes.
    "POST /api/v1/connectors/{connection_id}/messages": [
        api(
            "post",
            "/connectors/{connection}/messages",
            NOBODY,
            {"external_message_id": "x", "client": {"external_id": "c"}, "text": "hi"},
        )
    ],
    # CRM through the API: lists for every token; records bound only to A for who sees A.
    "GET /api/v1/crm/{kind}": [api("get", f"/crm/{kind}", TOKENS) for kind in CRM_SEGMENTS],
    "GET /api/v1/crm/{kind}/{record_id}": [
        api("get", "/crm/activities/{activity}", SEE_A),
        api("get", "/crm/{owner_segment}/{owner}", SEE_A),
    ],
    "PATCH /api/v1/crm/{kind}/{record_id}": [
        api("patch", "/crm/activities/{activity}", SEE_A, {"subject": "changed"})
    ],
    "POST /api/v1/crm/{kind}": [api("post", "/crm/contacts", TOKENS, {"name": "Matrix"})],
    "DELETE /api/v1/crm/{kind}/{record_id}": [api("delete", "/crm/deals/{deal}", SEE_A)],
    "POST /api/v1/crm/deals/{record_id}/move": [
        api("post", "/crm/deals/{deal}/move", SEE_A, {"stage": "won"})
    ],
    "POST /api/v1/crm/conversations/{conversation_id}/deal": [
        api("post", "/crm/conversations/{conv}/deal", SEE_A)
    ],
    # Merge and its undo: whoever may edit both records (bound to A) and act on A.
    "POST /api/v1/crm/{kind}/{record_id}/merge": [
        api(
            "post",
            "/crm/contacts/{contact_a}/merge",
            SEE_A,
            {"removed_id": "{contact_a2}", "fields": {"name": "removed"}},
        ),
        api("post", "/crm/companies/{company_a}/merge", SEE_A, {"removed_id": "{company_a2}"}),
    ],
    "POST /api/v1/crm/merges/{merge_id}/undo": [
        api("post", "/crm/merges/{crm_merge}/undo", SEE_A, {})
    ],
}

# The settings (Django admin): the superuser only; its log-in page is public. Every pattern under
# admin/ is covered by this rule; test_route_coverage lists them from the URL resolver.
ADMIN_PUBLIC = {"admin/login/", "admin/logout/"}  # logging out of the settings: anyone (POST)

# Sockets: the connect and every message type the consumer reads -> (who, the test asserting it).
OPERATOR_SOCKET = "tests/security/test_permission_matrix.py::test_the_operator_socket_replays_only_events_of_visible_conversations"
OPERATOR_TYPING = "tests/security/test_permission_matrix.py::test_the_operator_socket_relays_typing_only_within_a_conversation_its_employee_sees"
WIDGET_TESTS = "tests/widget/test_widget_socket.py"
SOCKET_MATRIX: dict[str, tuple[str, str]] = {
    "ws/operator/": (
        "employees with a session; anonymous and integration users are closed (4401)",
        OPERATOR_SOCKET,
    ),
    "ws/operator/ watch": ("adds only conversations the employee may see", OPERATOR_SOCKET),
    "ws/operator/ open": ("joins a conversation's group only when it is visible", OPERATOR_TYPING),
    "ws/operator/ typing": ("reaches only the conversation the socket has opened", OPERATOR_TYPING),
    "ws/widget/<str:key>/": (
        "public, from the widget connection's exact allowed origins only",
        f"{WIDGET_TESTS}::test_an_origin_not_in_the_allowed_list_is_refused",
    ),
    "ws/widget/<str:key>/ hello": (
        "the visitor's own session only",
        f"{WIDGET_TESTS}::test_one_widget_client_never_receives_another_clients_messages",
    ),
    "ws/widget/<str:key>/ message": (
        "into the visitor's own conversation only",
        f"{WIDGET_TESTS}::test_one_widget_client_never_receives_another_clients_messages",
    ),
    "ws/widget/<str:key>/ typing": (
        "into the visitor's own conversation, to the operator who has it open",
        f"{WIDGET_TESTS}::test_typing_goes_both_ways_between_the_widget_and_the_operator_who_has_it_open",
    ),
    "ws/widget/<str:key>/ rate": (
        "the visitor's own closed conversation only",
        f"{WIDGET_TESTS}::test_the_history_is_there_on_the_next_visit_and_the_client_rates_after_the_close",
    ),
}


def test_the_operator_socket_relays_typing_only_within_a_conversation_its_employee_sees(
    transactional_db,
):
    """`open` of a hidden conversation joins nothing and `typing` about it reaches nobody; an
    employee who sees and opened it types to its client, and hears the client type."""
    from tests.workspace.sockets import drain, operator, receive_until, session_cookie

    world = build_world()
    pk = world.pk("a")
    cookies = {actor: session_cookie(world.users[actor]) for actor in ("op_a", "op_b", "sup_a")}

    async def scenario():
        import asyncio

        from channels.layers import get_channel_layer

        from convodesk.conversations.realtime import conversation_group

        layer = get_channel_layer()
        listener = await layer.new_channel()  # stands in for A's client (the widget side)
        await layer.group_add(conversation_group(pk), listener)

        async def heard(wait=0.5):
            try:
                return await asyncio.wait_for(layer.receive(listener), wait)
            except TimeoutError:
                return None

        sockets = {}
        for actor, cookie in cookies.items():
            comm = operator(cookie)
            connected, _code = await comm.connect()
            assert connected, actor
            await receive_until(comm, lambda m: m["type"] == "hello")
            await comm.send_json_to({"type": "open", "conversation": pk})
            sockets[actor] = comm
        await drain(sockets["op_b"], 0.3)
        await sockets["op_b"].send_json_to({"type": "typing", "conversation": pk})
        assert await heard() is None  # op_b's open of A joined nothing; its typing goes nowhere
        await sockets["sup_a"].send_json_to({"type": "typing", "conversation": pk})
        message = await heard(2.0)
        assert message and message["who"] == "employee" and message["conversation"] == pk
        # A client's typing in A reaches the employees who see A and have it open, not op_b.
        await layer.group_send(
            conversation_group(pk),
            {"type": "conversation.typing", "who": "client", "conversation": pk, "sender": "x"},
        )
        for actor, want in (("op_a", [pk]), ("sup_a", [pk]), ("op_b", [])):
            frames = await drain(sockets[actor], 0.5)
            assert [m["conversation"] for m in frames if m["type"] == "typing"] == want, actor
        for comm in sockets.values():
            await comm.disconnect()
        await layer.group_discard(conversation_group(pk), listener)

    async_to_sync(scenario)()


def _quick_reply(world: World) -> int:
    from convodesk.workspace.models import QuickReply

    return QuickReply.objects.create(line=world.lines["a"], title="Hello", text="Hi").pk


def _tag() -> int:
    from convodesk.conversations.models import Tag

    return Tag.objects.create(name="Matrix", colour="blue").pk


def _api_token(world: World) -> int:
    from convodesk.api.models import ApiToken

    return ApiToken.issue(world.users["op_b"], "route matrix")[0].pk


def route_ids(world: World, export_root) -> dict:
    """The ids a route check's URL and body are filled with (world from build_world)."""
    from django.core.files.storage import default_storage

    from convodesk.conversations.jobs import BulkJob
    from convodesk.conversations.models import Message

    users, conv = world.users, Conversation.objects.get(pk=world.pk("a"))
    from convodesk.ops.heartbeat import Beat

    for role in ("worker", "jobs", "timers"):  # a running installation: /readyz answers 200
        Beat(role).tick(force=True)
    activity = _activity(world, "a")
    owner_segment = {"company": "companies"}.get(activity.owner_type, f"{activity.owner_type}s")
    # A file the e-mail connector stored, on the client's message of A: served behind history.
    email = f.connection(world.lines["a"], "email", name="route-mail")
    stored = default_storage.save("route-matrix/a.txt", io.BytesIO(b"file of A"))
    message = conv.messages.filter(author_kind="client").first()
    Message.objects.filter(pk=message.pk).update(
        connection=email, attachments=[{"stored": stored, "name": "a.txt"}]
    )
    from convodesk.crm.models import MatchSuggestion

    match = MatchSuggestion.objects.create(
        conversation=conv,
        entity_type=activity.owner_type,
        entity_id=activity.owner_id,
        matched_by="email",
    )
    (export_root / "a.xlsx").write_bytes(b"PK")  # a finished export of op_a's
    export = ExportJob.objects.create(
        owner=users["op_a"],
        params={},
        columns=["id"],
        status="done",
        file_path="a.xlsx",
        total=1,
    )
    picture = "ab" * 32  # a Telegram bot's picture as the token check keeps it
    default_storage.save(f"telegram-bots/{picture}", io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"0" * 64))
    from django.utils import timezone

    from convodesk.conversations.models import ConversationCrmLink
    from convodesk.crm.models import Contact, CrmMerge, CrmPreset, Deal, Pipeline

    deal = Deal.objects.create(title="Matrix deal of A", pipeline=Pipeline.default())
    ConversationCrmLink.objects.create(conversation=conv, entity_type="deal", entity_id=deal.pk)
    contact_a, contact_a2 = (Contact.objects.create(name=n) for n in ("Ann of A", "Ann of A"))
    for contact in (contact_a, contact_a2):
        ConversationCrmLink.objects.create(
            conversation=conv, entity_type="contact", entity_id=contact.pk
        )
    from convodesk.crm.models import Company, CrmImport

    company_a, company_a2 = (Company.objects.create(title=n) for n in ("Acme of A", "Acme of A"))
    for company in (company_a, company_a2):
        ConversationCrmLink.objects.create(
            conversation=conv, entity_type="company", entity_id=company.pk
        )

    (export_root / "import.csv").write_text("name\nAnn\n")
    (export_root / "import.errors.csv").write_text("row,problem\n")
    crm_import = CrmImport.objects.create(
        owner=users["op_a"],
        kind="contact",
        file_path=str(export_root / "import.csv"),
        file_name="import.csv",
        headers=["name"],
        mapping={"0": "name"},
        status="done",
        report_path=str(export_root / "import.errors.csv"),
    )
    crm_merge = CrmMerge.objects.create(
        kept=contact_a,
        removed_id=987654,
        removed={
            "name": "Gone",
            "company_id": None,
            "responsible_id": None,
            "comment": "",
            "created_at": timezone.now().isoformat(),
        },
        kept_before={},
        moved={},
        at=timezone.now(),
    )
    widget = f.connection(world.lines["a"], "livechat", name="route-widget")
    telegram = f.connection(world.lines["a"], "telegram", name="route-telegram")
    return {
        "conv": conv.pk,
        "match": match.pk,
        "client": conv.client_id,
        "message": message.pk,
        "activity": activity.pk,
        "owner_segment": owner_segment,
        "owner": activity.owner_id,
        "owner_type": activity.owner_type,
        "deal": deal.pk,
        "contact_a": contact_a.pk,
        "contact_a2": contact_a2.pk,
        "company_a": company_a.pk,
        "company_a2": company_a2.pk,
        "crm_merge": crm_merge.pk,
        "crm_import": crm_import.pk,
        "pipeline": Pipeline.default().pk,
        "crm_preset": CrmPreset.objects.create(owner=users["op_a"], kind="contact", name="M").pk,
        "lead": activity.owner_id if activity.owner_type == "lead" else 0,
        "preset": FilterPreset.objects.create(owner=users["op_a"], name="Mine", query="").pk,
        "export": export.pk,
        "bulk": BulkJob.objects.create(
            owner=users["op_a"], action="close", ids=[conv.pk], total=1
        ).pk,
        "widget_key": widget.public_key,
        "telegram": telegram.pk,
        "bot_picture": picture,
        "connection": world.conns["a"].pk,
        "line": world.lines["a"].pk,
        "line_b": world.lines["b"].pk,
        "dep": users["op_a"].departments.first().pk,
        "role": users["op_a"].roles.first().pk,
        "op_a": users["op_a"].pk,
        "quick_reply": _quick_reply(world),
        "tag": _tag(),
        "api_token": _api_token(world),
        **_bitrix24(world),
    }


def _bitrix24(world: World) -> dict:
    from convodesk.bitrix24 import codes
    from convodesk.bitrix24.models import WebhookCode

    handler, _token = codes.create_handler(None, "OnOpenLineSessionFinish", "https://h.example/")
    return {
        "b24_code": WebhookCode.issue(world.users["op_b"], "route matrix")[0].pk,
        "b24_handler": handler.pk,
    }


def _filled(value, ids: dict):
    """Placeholders in a check's URL or body: "{name}" alone keeps the id's own type."""
    if isinstance(value, str):
        if re.fullmatch(r"\{\w+\}", value):
            return ids[value[1:-1]]
        return value.format(**ids)
    if isinstance(value, list):
        return [_filled(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _filled(v, ids) for k, v in value.items()}
    return value


def refused(check: Check, actor: str, response) -> bool:
    status = response.status_code
    location = response.get("Location", "") if status in (301, 302) else ""
    if check.kind == "admin":
        return "/admin/login/" in location
    if check.kind == "page" and "/login/" in location:
        return True
    return status in (401, 403, 404, *check.refusals)


def send(world: World, actor: str, check: Check, ids: dict):
    from django.db import transaction

    url, data = _filled(check.url, ids), _filled(check.data, ids)
    api_side = check.url.startswith("/api/") and check.kind != "public" or actor == "integ"
    # The session or token outside the savepoint: made once, kept for the world's next requests.
    api, client = (world.api(actor), None) if api_side else (None, world.client(actor))
    with transaction.atomic():  # each actor meets the same world: undo what the request did
        if api_side:
            if check.files:
                from django.core.files.uploadedfile import SimpleUploadedFile

                form = {**(data or {}), "files": SimpleUploadedFile("a.txt", b"a")}
                response = api.client.post(url, form, **api.headers(None))
                transaction.set_rollback(True)
                return response
            body = json.dumps(data) if data is not None else ""
            call = getattr(api.client, check.method)
            kwargs = {"content_type": "application/json"} if check.method != "get" else {}
            response = call(
                url, *([body] if check.method != "get" else []), **kwargs, **api.headers(None)
            )
        else:
            headers = {"HTTP_HX_REQUEST": "true"} if check.htmx else {}
            call = getattr(client, check.method)
            response = call(url, data or {}, **headers)
        if getattr(response, "streaming", False):
            b"".join(response.streaming_content)
        transaction.set_rollback(True)
    return response


def _actors_for(check: Check) -> tuple[str, ...]:
    api_side = check.url.startswith("/api/")
    return API_ACTORS if api_side else PAGE_ACTORS


ROUTE_CHECKS = [
    (key, check) for key, checks in {**ROUTE_MATRIX, **API_MATRIX}.items() for check in checks
]


def test_every_route_lets_in_exactly_whom_the_matrix_names(world, settings, tmp_path):
    """One world; every request runs in a savepoint that is rolled back, so each actor of each
    check meets the same data. Every mismatch is listed at once."""
    settings.MEDIA_ROOT = tmp_path
    settings.EXPORT_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }
    settings.TASKS = {
        "default": {
            **settings.TASKS["default"],
            "BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
        }
    }
    ids = route_ids(world, tmp_path)
    wrong = []
    for key, check in ROUTE_CHECKS:
        through, statuses = set(), {}
        for actor in _actors_for(check):
            response = send(world, actor, check, ids)
            statuses[actor] = response.status_code
            if response.status_code >= 500:
                wrong.append(f"{key}: {check} answered {actor} {response.status_code}")
            elif not refused(check, actor, response):
                through.add(actor)
            elif check.kind == "page" and actor != "anon" and response.status_code == 404:
                assert_no_leak(body_of(response), world, actor)
        if through != check.reach & set(_actors_for(check)):
            wrong.append(f"{key}: {check} let in {sorted(through)}; answers {statuses}")
    assert not wrong, "\n".join(wrong)
    assert len(ROUTE_CHECKS) > 90


def test_every_settings_page_is_the_superusers_alone(world):
    """Every pattern under admin/ (the settings): the superuser gets through, every other
    employee and an anonymous visitor are sent to the admin log-in (its own page excepted)."""
    from tests.security.test_route_coverage import admin_urls

    checked = 0
    for route, url in admin_urls():
        check = Check("admin", EVERYONE if route in ADMIN_PUBLIC else SETTINGS_ADMIN, url)
        through = set()
        for actor in PAGE_ACTORS:
            response = send(world, actor, check, {})
            assert response.status_code < 500, (actor, url, response.status_code)
            if not refused(check, actor, response):
                through.add(actor)
        want = set(PAGE_ACTORS) if route in ADMIN_PUBLIC else {"admin"}
        assert through == want, (route, url, through)
        checked += 1
    assert checked > 50
