"""The widget's greeting, corner and language, set in Settings › Connections, are what a visitor's
browser shows (issue 16: the widget did not read them)."""

import pytest

from convodesk.connectors import setup
from convodesk.lines.models import Connection
from tests.administration.test_connections import error_beside, html_of
from tests.browser import PHONE, screenshot


def _chat(org, **config):
    conn, _secret = setup.create_connection(org.line, "livechat", "Shop chat", config)
    return conn


@pytest.mark.django_db
def test_the_settings_screen_saves_the_greeting_corner_and_language(client, org):
    client.force_login(org.admin)
    conn = _chat(org)
    response = client.post(
        f"/settings/connections/{conn.pk}/",
        {
            "name": "Shop chat",
            "active": "on",
            "color": "#2f5bea",
            "max_length": "2000",
            "greeting": "¡Hola! Estamos aquí de 9 a 18 h.",
            "position": "left",
            "language": "es",
        },
    )
    assert response.status_code == 302, error_beside(html_of(response), "greeting")
    conn.refresh_from_db()
    assert conn.config["greeting"] == "¡Hola! Estamos aquí de 9 a 18 h."
    assert (conn.config["position"], conn.config["language"]) == ("left", "es")


@pytest.mark.django_db
def test_a_corner_or_language_the_widget_does_not_have_is_refused(org):
    for config, field in (
        ({"position": "top"}, "config.position"),
        ({"language": "klingon"}, "config.language"),
    ):
        with pytest.raises(setup.ConnectionInvalid) as refused:
            setup.prepare(Connection.Kind.LIVECHAT, config)
        assert field in refused.value.errors


@pytest.mark.django_db
def test_a_fixed_language_wins_over_the_visitors_browser(client, org):
    conn = _chat(org, language="es")
    body = client.get(f"/widget/{conn.public_key}.js", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Escriba un mensaje" in body and "Write a message" not in body
    other = _chat(org)
    body = client.get(f"/widget/{other.public_key}.js", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Write a message" in body


@pytest.mark.browser
def test_the_visitor_sees_the_greeting_in_the_left_corner_in_spanish(
    transactional_db, live_server, org, chromium
):
    conn = _chat(org, greeting="¡Hola! Estamos aquí de 9 a 18 h.", position="left", language="es")
    context = chromium.new_context(viewport=PHONE, locale="en-US")
    page = context.new_page()
    page.goto(f"{live_server.url}/widget/demo/?key={conn.public_key}")
    host = page.locator("[data-convodesk-widget]")
    host.locator(".bubble").wait_for()
    box = host.locator(".bubble").bounding_box()
    assert box["x"] < PHONE["width"] / 2  # the left corner
    host.locator(".bubble").click()
    assert host.locator(".welcome").inner_text() == "¡Hola! Estamos aquí de 9 a 18 h."
    assert host.locator("textarea").get_attribute("placeholder") == "Escriba un mensaje…"
    screenshot(page, "widget-greeting-left-es-phone.png")
    context.close()
