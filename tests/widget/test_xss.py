"""A client's `<img src=x onerror=alert(1)>` is text everywhere it is shown."""

from convodesk.connectors.livechat import identity_of
from tests import factories as f

XSS = "<img src=x onerror=alert(1)>"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"


def test_client_html_is_escaped_in_the_workspace_the_list_and_the_history(client, org):
    conn = f.connection(org.line, "livechat")
    conv = f.client_message(conn, identity_of("x" * 40), XSS, name=XSS).conversation
    client.force_login(org.admin)
    pages = {
        "workspace": f"/contact-center/workspace/?c={conv.pk}",
        "workspace part": f"/contact-center/workspace/c/{conv.pk}/",
        "list": "/contact-center/conversations/",
        "history": f"/contact-center/conversations/{conv.pk}/history/",
    }
    for name, url in pages.items():
        html = client.get(url).content.decode()
        assert XSS not in html, name
        assert ESCAPED in html, name


def test_the_widget_script_carries_its_settings_as_data_not_markup(client, org):
    conn = f.connection(
        org.line, "livechat", config={"title": "</script><script>alert(1)</script>"}
    )
    response = client.get(f"/widget/{conn.public_key}.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    body = response.content.decode()
    assert "</script>" not in body and "\\u003C/script\\u003E" in body
    assert body.count("innerHTML") == 1 and "innerHTML = '<svg" in body  # only the static icon


def test_an_unknown_or_inactive_widget_key_is_a_clear_404(client, org):
    assert client.get("/widget/nope.js").status_code == 404
    conn = f.connection(org.line, "livechat", active=False)
    assert client.get(f"/widget/{conn.public_key}.js").status_code == 404
    api = f.connection(org.line, "api")
    assert client.get(f"/widget/{api.public_key}.js").status_code == 404


def test_the_demo_page_embeds_the_first_active_livechat_connection(client, org):
    assert client.get("/widget/demo/").status_code == 404
    conn = f.connection(org.line, "livechat")
    html = client.get("/widget/demo/").content.decode()
    assert f'<script src="/widget/{conn.public_key}.js" async></script>' in html
