"""Debian's Chromium driven by Playwright: one place for how the browser tests start it."""

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(
    os.environ.get("CONVODESK_SCREENSHOTS", Path(__file__).resolve().parents[1] / "screenshots")
)


def require_chromium() -> None:
    """A clear skip outside CI, a failure in CI (which installs Debian's chromium itself)."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{CHROMIUM} is required for browser tests in CI")
        pytest.skip(
            f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)"
        )


def screenshot(page, name: str, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=full_page)


PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 1000}


def log_in(page, base_url: str, username: str = "admin", password: str = "pass12345") -> None:
    """Log in through the real form (the throttle and CSP included) and land on the product."""
    page.goto(f"{base_url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/contact-center/**")


def screenshots(page, name: str) -> None:
    """`name`.png at 1440 px and `name`-phone.png at 390 px, both from the top of the page."""
    page.evaluate("window.scrollTo(0, 0)")
    page.set_viewport_size(DESKTOP)
    screenshot(page, f"{name}.png")
    page.set_viewport_size(PHONE)
    screenshot(page, f"{name}-phone.png")
    page.set_viewport_size(DESKTOP)
