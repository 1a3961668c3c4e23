"""Issue 15 item 1: a Content-Security-Policy on every page, and no page that needs it relaxed:
no inline script, no inline event handler, no style attribute. The widget works under a host
page's own strict policy (its styles come from our stylesheet, never a <style> or style=)."""

from __future__ import annotations

import re

import pytest

from convodesk.conversations import services
from convodesk.lines.models import Connection
from tests import factories as f

PAGES = [
    "/login/",
    "/contact-center/conversations/",
    "/contact-center/conversations/{conv}/history/",
    "/contact-center/conversations/{conv}/rate/",
    "/contact-center/workspace/",
    "/contact-center/workspace/?c={conv}",
    "/contact-center/statistics/",
    "/crm/leads/",
    "/account/tokens/",
    "/widget/demo/",
    "/admin/",
    "/api/v1/docs",
]
INLINE_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
STYLE_ATTR = re.compile(r"<[^>]*\sstyle\s*=", re.IGNORECASE)


def _directives(header: str) -> dict[str, list[str]]:
    parts = [p.strip().split() for p in header.split(";") if p.strip()]
    return {p[0]: p[1:] for p in parts}


@pytest.fixture
def world(org, client):
    f.connection(org.line, "livechat", name="Site chat")
    conv = f.client_message(org.conn, "c1", "hi").conversation
    services.take(conv.pk, f.act(org.admin))
    client.force_login(org.admin)
    return conv


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.django_db
def test_every_page_sends_a_strict_content_security_policy(client, world, path):
    if path == "/login/":
        client.logout()
    response = client.get(path.format(conv=world.pk))
    assert response.status_code == 200, path
    policy = _directives(response["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"][0] == "'self'"
    assert not {"'unsafe-inline'", "'unsafe-eval'", "*"} & set(policy["script-src"])
    assert not {"'unsafe-inline'", "*"} & set(policy["style-src"])
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"] and policy["form-action"] == ["'self'"]


@pytest.mark.parametrize("path", [p for p in PAGES if p not in ("/admin/", "/api/v1/docs")])
@pytest.mark.django_db
def test_no_page_carries_inline_script_handlers_or_style_attributes(client, world, org, path):
    """What the policy would block: the feature behind it would silently stop working."""
    if path == "/login/":
        client.logout()
    html = client.get(path.format(conv=world.pk)).content.decode()
    assert not INLINE_HANDLER.findall(html), INLINE_HANDLER.findall(html)[:3]
    assert not INLINE_SCRIPT.findall(html), INLINE_SCRIPT.findall(html)[:3]
    assert not STYLE_ATTR.findall(html), STYLE_ATTR.findall(html)[:3]


@pytest.mark.django_db
def test_the_widget_script_needs_no_inline_style_and_no_eval(client, org):
    conn = f.connection(org.line, "livechat", name="Site chat")
    script = client.get(f"/widget/{Connection.objects.get(pk=conn.pk).public_key}.js")
    body = script.content.decode()
    assert script.status_code == 200
    assert 'el("style")' not in body and 'createElement("style")' not in body
    assert 'setAttribute("style"' not in body and "cssText" not in body
    assert "eval(" not in body and "new Function" not in body
    assert '"stylesheet": "http://testserver/static/convodesk/widget.css"' in body
    css = client.get("/static/convodesk/widget.css")
    assert css.status_code == 200 and b".bubble" in b"".join(css.streaming_content)
