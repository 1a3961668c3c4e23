"""HEAD on the widget script answers like GET (uptime monitors and caches ask with HEAD)."""

import httpx
import pytest

from tests import factories as f

SAME = ("content-type", "content-length", "cache-control", "access-control-allow-origin")


@pytest.mark.django_db(transaction=True)
def test_head_on_the_widget_script_answers_like_get_over_http(live_server):
    line = f.line("Web")
    conn = f.connection(line, "livechat")
    for path in (f"/widget/{conn.public_key}.js", "/widget/no-such-key.js"):
        got = httpx.get(live_server.url + path)
        head = httpx.head(live_server.url + path)
        assert head.status_code == got.status_code, path
        assert got.status_code in (200, 404) and got.content
        for name in SAME:
            assert head.headers.get(name) == got.headers.get(name), (path, name)
        assert head.content == b""
    assert httpx.head(live_server.url + f"/widget/{conn.public_key}.js").status_code == 200
