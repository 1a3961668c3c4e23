"""Open channels in the settings: the screens and the API write through one service, refuse bad
input beside the field (422 naming it on the API), record every change in the audit log, and a
deactivated open channel starts no new conversations while the ones in it carry on."""

import datetime as dt
import re

import pytest

from convodesk.audit.models import AuditEntry
from convodesk.conversations import services as conv_services
from convodesk.conversations.lifecycle import Status
from convodesk.conversations.models import Message
from convodesk.lines import services
from convodesk.lines.models import Line
from tests import factories as f

pytestmark = pytest.mark.django_db

GOOD = {
    "name": "Support ES",
    "distribution": "strict",
    "queue_timeout_seconds": "45",
    "max_open_per_employee": "3",
    "auto_close_minutes": "120",
    "closing_text": "Thanks!",
    "full_close_minutes": "10",
    "reopen_window_minutes": "30",
    "greeting_text": "Hello, how can we help?",
    "out_of_hours_text": "We are closed now.",
    "crm_binding": "contact",
    "crm_bind_open_deal": "on",
    "time_zone": "Europe/Madrid",
    "hours_0_start": ["09:00", "15:00"],
    "hours_0_end": ["13:00", "18:00"],
    "hours_4_start": "09:00",
    "hours_4_end": "14:00",
    "holidays": ["2026-12-25", "2026-01-01"],
}


@pytest.fixture
def admin_client(client):
    admin = f.employee("boss", superuser=True)
    client.force_login(admin)
    client.admin = admin
    return client


def _post(client, url, **changes):
    data = {**GOOD, **changes}
    return client.post(url, {k: v for k, v in data.items() if v is not None})


def _error_beside(html: str, field_id: str, error_id: str, message: str) -> bool:
    """The message is in the field's own error list, which follows the field in its section."""
    field_at, error_at = html.find(field_id), html.find(f'id="{error_id}"')
    if field_at == -1 or error_at < field_at:
        return False
    error = re.search(rf'id="{error_id}"><li>(.*?)</li>', html, re.S)
    return bool(error) and message in error.group(1) and "</section>" not in html[field_at:error_at]


# Screens ------------------------------------------------------------------------------------


def test_an_administrator_creates_an_open_channel_with_members_in_order_hours_and_holidays(
    admin_client,
):
    ana, bob = f.employee("ana"), f.employee("bob")
    response = _post(admin_client, "/settings/lines/new/", members=[str(bob.pk), str(ana.pk)])
    line = Line.objects.get(name="Support ES")
    assert response.status_code == 302 and response.url == f"/settings/lines/{line.pk}/"
    assert services.member_ids(line) == [bob.pk, ana.pk]
    assert line.working_hours == {
        "0": [["09:00", "13:00"], ["15:00", "18:00"]],
        "4": [["09:00", "14:00"]],
    }
    assert line.holidays == ["2026-01-01", "2026-12-25"]
    assert (line.time_zone, line.distribution, line.queue_timeout_seconds) == (
        "Europe/Madrid",
        "strict",
        45,
    )
    assert line.crm_bind_open_deal and line.greeting_text == "Hello, how can we help?"
    page = admin_client.get(f"/settings/lines/{line.pk}/").content.decode()
    assert page.index("Bob") < page.index("Ana")  # shown in offering order
    assert 'value="15:00"' in page and 'value="2026-12-25"' in page
    listing = admin_client.get("/settings/lines/").content.decode()
    assert "Support ES" in listing and "Strictly in order" in listing


@pytest.mark.parametrize(
    "changes, field_id, message",
    [
        ({"time_zone": "Mars/Olympus"}, 'id="id_time_zone"', "Unknown time zone"),
        ({"queue_timeout_seconds": "-5"}, 'id="id_queue_timeout_seconds"', "Must be at least 1."),
        ({"auto_close_minutes": "-1"}, 'id="id_auto_close_minutes"', "Must be zero or more."),
        (
            {"queue_timeout_seconds": "soon"},
            'id="id_queue_timeout_seconds"',
            "Enter a whole number.",
        ),
        (
            {"hours_0_start": ["09:00", "12:00"], "hours_0_end": ["13:00", "18:00"]},
            'id="line-hours"',
            "09:00–13:00 and 12:00–18:00 overlap.",
        ),
        (
            {"hours_0_start": "18:00", "hours_0_end": "09:00"},
            'id="line-hours"',
            "must start before it ends",
        ),
        ({"holidays": ["2026-13-45"]}, 'id="line-holidays"', "“2026-13-45” is not a date"),
    ],
)
def test_bad_input_is_refused_with_a_message_beside_the_field_and_nothing_is_written(
    admin_client, changes, field_id, message
):
    response = _post(admin_client, "/settings/lines/new/", **changes)
    html = response.content.decode()
    assert response.status_code == 200
    error_id = {
        'id="line-hours"': "line-hours-error",
        'id="line-holidays"': "line-holidays-error",
    }.get(field_id, field_id[4:-1] + "_error")
    assert _error_beside(html, field_id, error_id, message), html
    assert "Please correct the fields marked below." in html
    assert not Line.objects.exists() and not AuditEntry.objects.exists()


def test_the_edit_screen_keeps_what_was_typed_when_it_refuses(admin_client):
    line = f.line("Sales")
    html = _post(
        admin_client, f"/settings/lines/{line.pk}/", name="Sales 2", holidays=["2026-02-30"]
    ).content.decode()
    assert 'value="Sales 2"' in html and "is not a date" in html
    line.refresh_from_db()
    assert line.name == "Sales"


def test_member_search_offers_matching_active_employees_only(admin_client):
    f.employee("maria", display_name="María López", email="maria@example.com")
    f.employee("mario", display_name="Mario Gone", is_active=False)
    f.integration("marketing-sync")
    html = admin_client.get("/settings/lines/members/search/", {"q": "mar"}).content.decode()
    assert "María López" in html and "Mario Gone" not in html and "marketing" not in html
    none = admin_client.get("/settings/lines/members/search/", {"q": "zzz"}).content.decode()
    assert "No active employee matches" in none


def test_operators_cannot_open_or_change_open_channels(client):
    line = f.line("Sales")
    client.force_login(f.employee("op"))
    assert client.get("/settings/lines/").status_code == 403
    assert client.post(f"/settings/lines/{line.pk}/", GOOD).status_code == 403
    assert client.post(f"/settings/lines/{line.pk}/deactivate/").status_code == 403
    line.refresh_from_db()
    assert line.name == "Sales" and line.active


# Audit --------------------------------------------------------------------------------------


def test_create_update_and_deactivate_are_each_in_the_audit_log(admin_client):
    ana = f.employee("ana")
    _post(admin_client, "/settings/lines/new/", members=[str(ana.pk)])
    line = Line.objects.get()
    _post(
        admin_client,
        f"/settings/lines/{line.pk}/",
        name="Support EN",
        time_zone="UTC",
        members=[str(ana.pk)],
    )
    page = admin_client.get(f"/settings/lines/{line.pk}/deactivate/").content.decode()
    assert "No new conversations start on its connections." in page
    assert admin_client.post(f"/settings/lines/{line.pk}/deactivate/").status_code == 302
    entries = list(AuditEntry.objects.filter(object_type="line").order_by("id"))
    assert [e.action for e in entries] == ["create", "update", "deactivate"]
    assert all(e.actor == admin_client.admin for e in entries)
    assert entries[0].after["members"] == [ana.pk]
    assert entries[0].after["working_hours"]["0"] == [["09:00", "13:00"], ["15:00", "18:00"]]
    changed = {field for field, _b, _a in entries[1].changes()}
    assert changed == {"name", "time_zone"}
    assert entries[2].before["active"] is True and entries[2].after["active"] is False
    line.refresh_from_db()
    assert not line.active
    # Saving without a change records nothing.
    _post(
        admin_client,
        f"/settings/lines/{line.pk}/",
        name="Support EN",
        time_zone="UTC",
        members=[str(ana.pk)],
    )
    assert AuditEntry.objects.filter(object_type="line").count() == 3


# API ----------------------------------------------------------------------------------------


@pytest.fixture
def api(client):
    from convodesk.api.models import ApiToken

    admin = f.employee("root", superuser=True)
    _token, raw = ApiToken.issue(admin, "t")

    class Api:
        user = admin

        def call(self, method, url, body):
            return getattr(client, method)(
                "/api/v1" + url,
                body,
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {raw}",
            )

    return Api()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"queue_timeout_seconds": -5}, "queue_timeout_seconds"),
        ({"working_hours": {"0": [["09:00", "13:00"], ["12:00", "18:00"]]}}, "working_hours"),
        ({"working_hours": {"8": [["09:00", "13:00"]]}}, "working_hours"),
        ({"holidays": ["2026-13-45"]}, "holidays"),
        ({"holidays": [20260101]}, "holidays"),
    ],
)
def test_the_api_refuses_the_same_input_with_a_422_naming_the_field(api, body, field):
    response = api.call("post", "/lines", {"name": "Bad", **body})
    assert response.status_code == 422, response.content
    assert field in response.json()["error"]["details"]
    line = f.line("Good")
    response = api.call("patch", f"/lines/{line.pk}", body)
    assert response.status_code == 422 and field in response.json()["error"]["details"]
    assert not Line.objects.filter(name="Bad").exists()
    assert not AuditEntry.objects.exists()


def test_api_changes_go_through_the_same_service_and_are_audited(api):
    ana = f.employee("ana")
    response = api.call(
        "post",
        "/lines",
        {
            "name": "Web",
            "members": [ana.pk],
            "time_zone": "America/Bogota",
            "working_hours": {"1": [["08:00", "12:00"]]},
            "holidays": ["2026-07-20"],
            "greeting_text": "Hi!",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["working_hours"] == {"1": [["08:00", "12:00"]]} and body["holidays"] == [
        "2026-07-20"
    ]
    assert body["greeting_text"] == "Hi!" and body["members"] == [ana.pk]
    line_id = body["id"]
    assert api.call("patch", f"/lines/{line_id}", {"name": "Web 2"}).status_code == 200
    assert api.call("patch", f"/lines/{line_id}", {"active": False}).status_code == 200
    actions = list(
        AuditEntry.objects.filter(object_type="line", object_id=str(line_id))
        .order_by("id")
        .values_list("action", "actor")
    )
    assert actions == [
        ("create", api.user.pk),
        ("update", api.user.pk),
        ("deactivate", api.user.pk),
    ]


# Behaviour ----------------------------------------------------------------------------------


def test_a_holiday_closes_the_working_hours_in_the_channels_time_zone():
    line = f.line(
        "Support",
        time_zone="Europe/Madrid",
        working_hours={"4": [["09:00", "18:00"]]},  # Fridays
        holidays=["2026-12-25"],
    )
    friday_noon = dt.datetime(2026, 12, 18, 11, 0, tzinfo=dt.UTC)  # 12:00 in Madrid
    christmas_noon = dt.datetime(2026, 12, 25, 11, 0, tzinfo=dt.UTC)
    assert line.within_working_hours(friday_noon)
    assert not line.within_working_hours(christmas_noon)
    # 23:30 UTC on the 24th is already the 25th in Madrid.
    always = f.line("Always", time_zone="Europe/Madrid", holidays=["2026-12-25"])
    assert always.within_working_hours(dt.datetime(2026, 12, 24, 22, 30, tzinfo=dt.UTC))
    assert not always.within_working_hours(dt.datetime(2026, 12, 24, 23, 30, tzinfo=dt.UTC))


def test_a_new_conversation_gets_the_greeting_or_on_a_holiday_the_out_of_hours_text():
    line = f.line(
        "Support",
        greeting_text="Hello!",
        out_of_hours_text="We are closed today.",
        holidays=["2026-12-25"],
    )
    conn = f.connection(line, "api")
    open_day = f.client_message(conn, "c1", "Hi", when=dt.datetime(2026, 12, 18, 11, tzinfo=dt.UTC))
    holiday = f.client_message(conn, "c2", "Hi", when=dt.datetime(2026, 12, 25, 11, tzinfo=dt.UTC))
    bot = Message.objects.filter(author_kind=Message.Author.BOT)
    assert list(bot.filter(conversation=open_day.conversation).values_list("text", flat=True)) == [
        "Hello!"
    ]
    assert list(bot.filter(conversation=holiday.conversation).values_list("text", flat=True)) == [
        "We are closed today."
    ]
    # A further message in the same conversation is not greeted again.
    f.client_message(
        conn, "c1", "Still there?", when=dt.datetime(2026, 12, 18, 11, 1, tzinfo=dt.UTC)
    )
    assert bot.filter(conversation=open_day.conversation).count() == 1


def test_a_deactivated_channel_starts_no_new_conversation_but_the_waiting_one_carries_on(api):
    op = f.employee("op", availability="away")
    line = f.line("Sales", members=[op])
    conn = f.connection(line, "api")
    waiting = f.client_message(conn, "c1", "Hello").conversation
    services.deactivate_line(api.user, line)
    # The waiting client writes again: same conversation, still waiting in the queue.
    again = f.client_message(conn, "c1", "Anyone?")
    assert again.conversation.pk == waiting.pk
    # A new client is refused, and nothing of them is stored.
    with pytest.raises(conv_services.LineInactive):
        f.client_message(conn, "c2", "Hello")
    assert line.conversations.count() == 1
    # The member comes online: the waiting conversation is offered to them as before.

    op.availability = "online"
    op.save()
    assert conv_services.offer_queued([op.pk]) == 1
    waiting.refresh_from_db()
    assert waiting.status == Status.NEW


def test_the_connector_api_answers_409_for_a_new_conversation_on_a_deactivated_channel(client):
    line = f.line("Sales")
    conn = f.connection(line, "api")
    secret = conn.rotate_secret()
    conn.save()
    services.deactivate_line(None, line)
    response = client.post(
        f"/api/v1/connectors/{conn.pk}/messages",
        {
            "external_message_id": "m1",
            "client": {"external_id": "c9", "name": "Nine"},
            "text": "Hello",
        },
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 409, response.content
    assert response.json()["error"]["code"] == "line_inactive"


@pytest.mark.parametrize("digit", ["٣", "３", "³"])
def test_a_number_in_another_script_is_refused_not_read(admin_client, digit):
    """Second adversarial pass: Django's IntegerField read "٣" as 3 before the service saw it."""
    response = _post(admin_client, "/settings/lines/new/", queue_timeout_seconds=digit)
    assert response.status_code in (200, 400)
    assert not Line.objects.filter(name=GOOD["name"]).exists()
    assert _post(admin_client, "/settings/lines/new/").status_code == 302  # the same form, ASCII
