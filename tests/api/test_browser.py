"""In a real browser: an employee creates a token on their profile page (shown once) and reads the
API docs, whose Swagger UI comes from django-ninja's own static files (the page blocks every
request that is not to the test server, so a CDN asset would leave it blank)."""

import pytest

from convodesk.api.models import ApiToken
from tests import factories as f
from tests.browser import SCREENSHOTS

from .conftest import Api


@pytest.fixture
def page(chromium, live_server):
    context = chromium.new_context(viewport={"width": 1300, "height": 900})
    outside = []

    def only_local(route):
        if route.request.url.startswith(live_server.url):
            return route.continue_()
        outside.append(route.request.url)
        return route.abort()

    context.route("**/*", only_local)
    new_page = context.new_page()
    new_page.outside_requests = outside
    yield new_page


def shot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_employee_creates_a_token_and_reads_the_api_docs(live_server, page):
    user = f.employee("tokenuser")
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "tokenuser")
    page.fill("input[name=password]", "pass12345")
    page.click("button[type=submit], input[type=submit]")
    page.goto(f"{live_server.url}/account/tokens/")
    page.fill("#token-name", "reporting script")
    page.click("text=Create token")
    token = page.input_value("#new-token")
    assert (
        token.startswith("cdk_")
        and ApiToken.objects.filter(user=user, name="reporting script").exists()
    )
    shot(page, "api-tokens-created.png")
    assert Api(token).get("/me")[1]["username"] == "tokenuser"
    page.reload()
    assert page.locator("#new-token").count() == 0  # shown once

    page.goto(f"{live_server.url}/api/v1/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=15000)
    assert page.locator(".opblock-summary-path", has_text="/api/v1/conversations").count() >= 1
    shot(page, "api-docs.png")
    assert page.outside_requests == []
