"""The Content-Security-Policy in Debian's Chromium: the pages work under it with zero violations,
and the chat widget works on a host page whose own policy allows nothing but our origin."""

from __future__ import annotations

import threading

import pytest

from convodesk.connectors import mail
from convodesk.conversations import services
from tests import factories as f
from tests.browser import screenshot
from tests.workspace.server import ThreadedUvicorn

pytestmark = pytest.mark.browser

WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI + " " + e.sourceFile + ":" + e.lineNumber);
});
"""


@pytest.fixture
def server(tdb):  # noqa: F811
    with ThreadedUvicorn() as s:
        yield s


class Watched:
    """A page whose CSP violations and console errors are collected, for an assert at the end."""

    def __init__(self, context):
        self.page = context.new_page()
        self.console: list[str] = []
        self.page.on(
            "console",
            lambda m: (
                self.console.append(m.text)
                if m.type == "error"
                and ("Content Security Policy" in m.text or "Refused" in m.text)
                else None
            ),
        )

    def violations(self) -> list[str]:
        return self.page.evaluate("window.__cspViolations || []") + self.console


def login(browser, base, username):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.add_init_script(WATCH)
    watched = Watched(context)
    page = watched.page
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pass12345")
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)
    return watched


def _mail(raw_id: str) -> bytes:
    import email.message

    raw = email.message.EmailMessage()
    raw["From"], raw["To"], raw["Subject"] = "Eve <eve@example.net>", "support@shop.example", "Inv"
    raw["Message-ID"] = raw_id
    raw.set_content("Invoice attached, and a link to the order.")
    raw.add_attachment(b"%PDF-1.4 x", maintype="application", subtype="pdf", filename="invoice.pdf")
    return raw.as_bytes()


def test_the_pages_work_under_the_policy_with_no_violation(
    server, org, chromium, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    received = mail.ingest(f.connection(org.line, "email"), mail.parse(_mail("<i1@example.net>")))
    conv = received.conversation
    api_conv = f.client_message(
        org.conn,
        "c9",
        "Here is the link",
        attachments=[{"url": "https://files.example.com/order.pdf", "name": "order.pdf"}],
    ).conversation
    services.take(api_conv.pk, f.act(org.admin))
    watched = login(chromium, server.url, "admin")
    page = watched.page

    page.goto(f"{server.url}/contact-center/conversations/")
    page.locator(f"tr[data-id='{conv.pk}'], tr#row-{conv.pk}").first.wait_for(timeout=30000)
    page.goto(f"{server.url}/contact-center/conversations/{conv.pk}/history/")
    link = page.locator(".msg-files a", has_text="invoice.pdf")
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "invoice.pdf"
    screenshot(page, "history-email-attachment-csp.png")
    page.goto(f"{server.url}/contact-center/conversations/{api_conv.pk}/history/")
    assert (
        page.locator(".msg-files a").get_attribute("href") == "https://files.example.com/order.pdf"
    )
    screenshot(page, "history-attachments-csp.png")

    page.goto(f"{server.url}/contact-center/workspace/?c={api_conv.pk}")
    page.locator("#ws-transcript").filter(has_text="Here is the link").wait_for(timeout=30000)
    page.goto(f"{server.url}/contact-center/statistics/")
    page.locator("svg.chart").first.wait_for(timeout=30000)  # a loaded machine is slow
    # a style set through the CSSOM from data-css-* (a style attribute would be blocked)
    widths = page.eval_on_selector_all("[data-css-width]", "els => els.map(e => e.style.width)")
    assert widths and all(w.endswith("%") for w in widths), widths
    page.goto(f"{server.url}/api/v1/docs")
    page.locator(".swagger-ui .info").wait_for(timeout=15000)
    page.goto(f"{server.url}/admin/")
    page.locator("#content").wait_for()
    assert watched.violations() == []


class HostSite:
    """Another origin (another port) serving one page under its own strict policy; a real server,
    since Chromium keeps a page that is not itself local from reaching 127.0.0.1."""

    def __init__(self, html: str, policy: str):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                body = html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Security-Policy", policy)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def test_the_widget_works_on_a_host_page_with_its_own_strict_policy(server, org, chromium):
    conn = f.connection(f.line("Website", members=[org.op1]), "livechat", name="Site chat")
    ws = server.url.replace("http://", "ws://")
    policy = (
        f"default-src 'none'; script-src {server.url}; style-src {server.url}; "
        f"connect-src {server.url} {ws}"
    )  # the one line README tells the host to add, and nothing else
    page_html = (
        "<!doctype html><html><head><title>Shop</title></head><body><h1>Shop</h1>"
        f'<script src="{server.url}/widget/{conn.public_key}.js" async></script></body></html>'
    )
    site = HostSite(page_html, policy).__enter__()
    conn.allowed_origins = [site.url]
    conn.save()
    context = chromium.new_context(viewport={"width": 1200, "height": 860})
    context.add_init_script(WATCH)
    watched = Watched(context)
    page = watched.page
    page.goto(f"{site.url}/")
    widget = page.locator(f"#convodesk-widget-{conn.public_key}")
    bubble = widget.locator(".bubble")
    bubble.wait_for(timeout=10000)
    # styled by our stylesheet: a round, coloured bubble, the panel hidden until opened
    assert bubble.evaluate("b => getComputedStyle(b).borderRadius") == "50%"
    assert widget.locator(".panel").is_hidden()
    bubble.click()
    widget.locator("textarea").fill("Hello from a strict shop page")
    widget.locator("textarea").press("Enter")
    # the server confirmed the message (its id came back over the socket)
    widget.locator(".msg.client[data-id]").filter(
        has_text="Hello from a strict shop page"
    ).wait_for(timeout=15000)
    from convodesk.conversations.models import Message

    assert Message.objects.filter(text="Hello from a strict shop page").exists()
    screenshot(page, "widget-host-csp.png")
    site.__exit__()
    assert watched.violations() == []
