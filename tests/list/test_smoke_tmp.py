import pytest
from tests import factories as f


def test_page_renders(org, client):
    f.client_message(org.conn, "c1", "Hi", when=f.at(0))
    client.force_login(org.admin)
    r = client.get("/contact-center/conversations/")
    assert r.status_code == 200, r.content[:3000]
    print(r.content.decode()[:200])
