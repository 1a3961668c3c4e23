import pytest

from tests.browser import SCREENSHOTS

from .builders import random_history


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    yield context.new_page()


@pytest.fixture
def default_roles(transactional_db):
    """A transactional test before this one flushed the roles the data migration installed."""
    from convodesk.accounts.defaults import install_default_roles
    from convodesk.accounts.models import Role

    install_default_roles(Role)


def _screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def _login(page, live_server, username):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pass12345")
    page.click("button[type=submit]")
    page.wait_for_url("**/contact-center/**")


@pytest.mark.browser
def test_the_statistics_opened_from_a_filtered_list_count_exactly_the_listed_conversations(
    default_roles, live_server, org, page
):
    random_history(org, 11, conversations=140, days=7)
    _login(page, live_server, "admin")
    query = f"line={org.line.pk}&started_from=2026-10-05&started_to=2026-10-10"
    page.goto(f"{live_server.url}/contact-center/conversations/?{query}")
    listed = int(page.locator(".count-value").first.inner_text().replace(",", "").strip())
    assert listed > 0
    page.get_by_role("link", name="Statistics").last.click()
    page.wait_for_url("**/contact-center/statistics/**")
    assert f"line={org.line.pk}" in page.url and "started_from=2026-10-05" in page.url
    shown = page.get_by_test_id("total").inner_text()
    assert int(shown.replace(",", "").replace(".", "")) == listed
    _screenshot(page, "stats-filtered-from-list.png")

    page.goto(
        f"{live_server.url}/contact-center/statistics/?started_from=2026-10-05&started_to=2026-10-11"
    )
    page.get_by_role("link", name="Hours").click()
    page.wait_for_url("**interval=hour**")
    _screenshot(page, "stats-all-hours.png")
    header = page.locator("table[data-table=employees] th", has_text="Taken")
    header.click()
    assert header.get_attribute("aria-sort") == "descending"


@pytest.mark.browser
def test_a_supervisor_sees_only_their_department_and_an_empty_filter_shows_dashes(
    default_roles, live_server, org, page
):
    random_history(org, 12, conversations=60, days=5)
    _login(page, live_server, "supervisor")
    page.goto(
        f"{live_server.url}/contact-center/statistics/?started_from=2026-10-05&started_to=2026-10-11"
    )
    names = page.locator("table[data-table=employees] tbody td:first-child").all_inner_texts()
    assert "Op3" not in names
    _screenshot(page, "stats-supervisor.png")
    page.goto(
        f"{live_server.url}/contact-center/statistics/?started_from=2030-01-01&started_to=2030-01-02"
    )
    assert page.get_by_test_id("total").inner_text() == "0"
    _screenshot(page, "stats-empty.png")
