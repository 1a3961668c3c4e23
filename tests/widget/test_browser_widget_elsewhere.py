"""Issue 16's whole website-chat flow in Chromium: an administrator creates an open channel and a
website chat on the settings screens, copies the snippet into a page served from another origin,
a visitor writes there, and an operator answers in the workspace; the answer reaches the visitor."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from convodesk.conversations.models import Conversation
from convodesk.lines.models import Connection, Line
from tests.administration.test_browser_lines import add_member
from tests.browser import DESKTOP, log_in, screenshot
from tests.workspace.server import ThreadedUvicorn

pytestmark = pytest.mark.browser


class ShopSite:
    """Someone else's website on its own origin (localhost, not 127.0.0.1), with a page that
    carries whatever snippet it is given."""

    def __init__(self):
        site = self
        self.snippet = ""

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                body = (
                    "<!doctype html><html><head><meta charset=utf-8><title>Northwind bikes</title>"
                    "</head><body><h1>Northwind bikes</h1><p>Trekking bikes since 1998.</p>"
                    f"{site.snippet}</body></html>"
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def origin(self) -> str:
        return f"http://localhost:{self.server.server_address[1]}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def test_an_administrator_sets_up_a_website_chat_that_a_visitor_uses_on_another_site(
    tdb, org, chromium, settings
):
    shop = ShopSite()
    with ThreadedUvicorn() as server:
        settings.CONVODESK = {**settings.CONVODESK, "PUBLIC_URL": server.url}
        admin = chromium.new_context(viewport=DESKTOP)
        admin.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
        page = admin.new_page()
        log_in(page, server.url)

        # The open channel, with its hours and its member, on the settings screen.
        page.goto(f"{server.url}/settings/lines/new/")
        page.fill("#id_name", "Web shop")
        add_member(page, "op1", org.op1.name)
        page.click("#line-save")
        page.wait_for_url("**/settings/lines/*/")
        line = Line.objects.get(name="Web shop")
        assert [m.username for m in line.members.all()] == [org.op1.username]

        # The website chat, allowing the shop's origin; the snippet copied from the screen.
        page.goto(f"{server.url}/settings/connections/new/livechat/")
        page.fill("#id_name", "Shop chat")
        page.select_option("#id_line", str(line.pk))
        page.locator(".origin-row input").last.fill(shop.origin)
        page.fill("#id_greeting", "Hello from Northwind!")
        page.click("button[value=save]")
        page.wait_for_url("**/settings/connections/*/")
        page.click("[data-copy='#snippet']")
        shop.snippet = page.evaluate("navigator.clipboard.readText()")
        chat = Connection.objects.get(name="Shop chat")
        assert chat.public_key in shop.snippet and server.url in shop.snippet

        # A visitor on the shop's own site writes.
        visitor = chromium.new_context(viewport=DESKTOP).new_page()
        visitor.goto(shop.origin)
        widget = visitor.locator(f"#convodesk-widget-{chat.public_key}")
        widget.locator(".bubble").click()
        assert widget.locator(".welcome").inner_text() == "Hello from Northwind!"
        widget.locator("input[name=name]").fill("Carmen")
        widget.locator("textarea").fill("Do you have the Trekking 28 in blue?")
        widget.locator("textarea").press("Enter")

        # The operator takes it in the workspace and answers; the visitor reads the answer.
        operator = chromium.new_context(viewport=DESKTOP).new_page()
        log_in(operator, server.url, username=org.op1.username)
        operator.goto(f"{server.url}/contact-center/workspace/")
        operator.locator("#ws-queue [data-open]").first.wait_for(timeout=10000)
        operator.locator("#ws-queue [data-open]").first.click()
        operator.locator("button[data-action=take]").click()
        operator.locator("#ws-head [data-status=taken]").wait_for(timeout=10000)
        operator.locator("#ws-text").fill("Yes, in blue and green.")
        operator.locator("#ws-text").press("Enter")
        widget.locator(".msg.employee").filter(has_text="Yes, in blue and green.").wait_for(
            timeout=10000
        )
        screenshot(visitor, "settings-widget-on-another-site.png", full_page=False)
        conv = Conversation.objects.get(connection=chat)
        assert conv.source_url.startswith(shop.origin) and conv.client.name == "Carmen"
    shop.stop()
