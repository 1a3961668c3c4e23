"""The composer in Debian's Chromium (issue 19 item 4): a private note the client never sees, and
a file attached by the picker, by drag and drop and by paste that the client receives on the
widget and opens. Screenshots of the composer with a note and a file, in English and Spanish."""

import pytest

from convodesk.accounts.models import User
from convodesk.conversations.models import Conversation, Message
from tests import factories as f
from tests.browser import screenshot

from .server import ThreadedUvicorn

pytestmark = pytest.mark.browser

PDF = b"%PDF-1.4 price list for Ana"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f"
    b"\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00"
    b"\x00IEND\xaeB`\x82"
)

DROP = """([selector, name, type, text]) => {
  const data = new DataTransfer();
  data.items.add(new File([text], name, { type }));
  const target = document.querySelector(selector);
  target.dispatchEvent(new DragEvent("dragover", { bubbles: true, cancelable: true, dataTransfer: data }));
  target.dispatchEvent(new DragEvent("drop", { bubbles: true, cancelable: true, dataTransfer: data }));
}"""
PASTE = """([name, type, text]) => {
  const data = new DataTransfer();
  data.items.add(new File([text], name, { type }));
  document.getElementById("ws-text").dispatchEvent(
    new ClipboardEvent("paste", { bubbles: true, cancelable: true, clipboardData: data }));
}"""


@pytest.fixture
def server(tdb, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    with ThreadedUvicorn() as s:
        yield s


def login(context, base, username):
    page = context.new_page()
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pass12345")
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)
    return page


def test_a_note_and_files_from_the_composer(tdb, org, server, chromium, tmp_path):
    line = f.line("Website", members=[org.op1])
    conn = f.connection(line, "livechat", name="Website chat")
    alerts = []

    client_ctx = chromium.new_context(viewport={"width": 1280, "height": 800})
    demo = client_ctx.new_page()
    demo.on("dialog", lambda d: (alerts.append(d.message), d.dismiss()))
    demo.goto(f"{server.url}/widget/demo/")
    widget = demo.locator(f"#convodesk-widget-{conn.public_key}")
    widget.locator(".bubble").click()
    widget.locator("input[name=name]").fill("Ana")
    widget.locator("textarea").fill("Could you send me the price list?")
    widget.locator("textarea").press("Enter")

    operator_ctx = chromium.new_context(viewport={"width": 1400, "height": 900})
    workspace = login(operator_ctx, server.url, "op1")
    workspace.on("dialog", lambda d: (alerts.append(d.message), d.dismiss()))
    workspace.goto(f"{server.url}/contact-center/workspace/")
    workspace.locator("#ws-queue [data-open]").first.click()
    workspace.locator("button[data-action=take]").click()
    workspace.locator("#ws-head [data-status=taken]").wait_for()
    conv = Conversation.objects.get(connection=conn)

    # A private note: the box turns into a note, Enter adds it, the transcript marks it.
    workspace.locator(".ws-mode-note input").check()
    assert "only employees" in workspace.locator("#ws-text").get_attribute("placeholder")
    workspace.locator("#ws-text").fill("Ana is a reseller: send the B2B list")
    workspace.locator("#ws-text").press("Enter")
    note = workspace.locator("#ws-transcript .ws-msg-note")
    note.filter(has_text="Ana is a reseller").wait_for(timeout=10000)
    assert "Private note" in note.inner_text()

    # Back to a reply; a file by the picker, one dropped and one pasted wait under the text.
    workspace.locator(".ws-mode input[value='']").check()
    pdf = tmp_path / "price list.pdf"
    pdf.write_bytes(PDF)
    workspace.locator("#ws-files").set_input_files(str(pdf))
    workspace.evaluate(DROP, ["#ws-text", "terms.txt", "text/plain", "Terms: 30 days"])
    workspace.evaluate(PASTE, ["image.png", "image/png", "not really a png"])
    chips = workspace.locator("#ws-pending .ws-chip")
    assert chips.count() == 3
    chips.nth(2).locator("button").click()  # changed their mind about the pasted picture
    assert chips.count() == 2
    workspace.evaluate(DROP, ["#ws-text", "virus.exe", "application/octet-stream", "MZ"])
    workspace.locator("#ws-flash").filter(has_text="virus.exe").wait_for()
    assert "not accepted" in workspace.locator("#ws-flash").inner_text()
    assert chips.count() == 2
    workspace.locator("#ws-text").fill("Here is our price list, Ana.")
    screenshot(workspace, "workspace-composer-note-and-file.png", full_page=False)
    workspace.locator("#ws-text").press("Enter")

    # The client receives the reply with two links, never the note, and opens the file.
    reply = widget.locator(".msg.employee").filter(has_text="Here is our price list")
    reply.wait_for(timeout=10000)
    assert "reseller" not in widget.inner_text()
    links = reply.locator("a.file")
    assert links.count() == 2 and "price list.pdf" in links.first.inner_text()
    href = links.first.get_attribute("href")
    assert href.startswith(server.url + "/connectors/files/")
    got = demo.request.get(href)
    assert got.status == 200 and got.body() == PDF
    screenshot(demo, "widget-reply-with-file.png", full_page=False)

    message = Message.objects.get(conversation=conv, author_kind="employee")
    assert [a["name"] for a in message.attachments] == ["price list.pdf", "terms.txt"]
    transcript = workspace.locator("#ws-transcript")
    transcript.locator(".ws-files a").filter(has_text="terms.txt").wait_for(timeout=10000)
    assert workspace.locator("#ws-pending .ws-chip").count() == 0
    assert alerts == []

    # The same composer in Spanish, with a note chosen and a file waiting.
    User.objects.filter(pk=org.op1.pk).update(language="es")
    workspace.goto(f"{server.url}/contact-center/workspace/?c={conv.pk}")
    workspace.locator(".ws-mode-note input").check()
    workspace.locator("#ws-files").set_input_files(str(pdf))
    workspace.locator("#ws-text").fill("Revisar el descuento antes de responder")
    assert "Nota privada" in workspace.locator(".ws-modes").inner_text()
    screenshot(workspace, "workspace-composer-note-and-file-es.png", full_page=False)
