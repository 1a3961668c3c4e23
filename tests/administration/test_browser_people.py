"""In Chromium: an administrator adds an employee, puts her in a department, gives her a role made
in the role matrix, then deactivates her; every people screen is photographed in English and
Spanish at 1440 px and at phone width (390 px)."""

from __future__ import annotations

import re

import pytest

from convodesk.accounts.models import Role, User
from convodesk.api.models import ApiToken
from convodesk.workspace.models import QuickReply
from tests.browser import screenshot

from .. import factories as f

WIDTHS = {"1440": (1440, 1000), "390": (390, 844)}


def _login(page, base):
    page.goto(f"{base}/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "pass12345")
    page.click("form:has(#id_password) button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)


@pytest.mark.browser
def test_an_administrator_adds_an_employee_gives_her_a_role_then_deactivates_her(
    transactional_db, live_server, org, chromium
):
    base = live_server.url
    context = chromium.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    _login(page, base)

    # Add the employee, in the Sales department.
    page.goto(f"{base}/settings/employees/")
    page.click("text=Add employee")
    page.fill("#id_username", "lucia")
    page.fill("#id_display_name", "Lucía Fernández")
    page.fill("#id_email", "lucia@example.com")
    page.fill("#id_password", "123")  # too weak: refused beside the field
    page.fill("#id_time_zone", "Europe/Madrid")
    page.locator("#field-departments label", has_text="Sales").first.locator("input").check()
    page.click("form.pp-form button[type=submit]")
    assert "too short" in page.locator("#field-password .pp-error").inner_text()
    page.fill("#id_password", "Quartz-Lantern-47")
    page.click("form.pp-form button[type=submit]")
    page.wait_for_url(re.compile(r"/settings/employees/\d+/$"))
    lucia = User.objects.get(username="lucia")
    assert [d.name for d in lucia.departments.all()] == ["Sales"]

    # A role from the matrix: department-wide conversations, everything else left as it is.
    page.goto(f"{base}/settings/roles/new/")
    page.fill("#id_name", "Team lead")
    page.check("#id_view_conversations_20")
    page.check("#id_view_history_20")
    page.check("#id_act_20")
    page.check("#id_view_crm_20")
    assert page.locator("#perm-export .pp-cell-off").count() == 2  # no own, no department
    page.click("form.pp-form-plain .pp-actions button[type=submit]")
    page.wait_for_url(re.compile(r"/settings/roles/\d+/$"))
    role = Role.objects.get(name="Team lead")
    assert (role.view_conversations, role.act, role.export) == (20, 20, 0)

    # Give it to her.
    page.goto(f"{base}/settings/employees/{lucia.pk}/")
    page.locator("#field-roles label", has_text="Team lead").locator("input").check()
    page.click("form.pp-form button[type=submit]")
    page.wait_for_url(f"**/settings/employees/{lucia.pk}/")
    assert "Team lead" in {r.name for r in User.objects.get(pk=lucia.pk).roles.all()}

    # She now supervises Sales.
    page.goto(f"{base}/settings/departments/")
    sales_row = page.locator("tr", has_text="Sales").first
    assert "Lucía Fernández" in sales_row.inner_text()

    # Deactivate: the confirm page says what happens, the POST does it.
    page.goto(f"{base}/settings/employees/{lucia.pk}/")
    page.click("text=Deactivate…")
    page.wait_for_url(f"**/settings/employees/{lucia.pk}/deactivate/")
    assert "API token" in page.content() and "disconnected" in page.content()
    page.click("button.pp-danger")
    page.wait_for_url(f"**/settings/employees/{lucia.pk}/")
    assert "is deactivated" in page.locator(".flash").inner_text()
    assert not User.objects.get(pk=lucia.pk).is_active
    context.close()

    # Screens, in both languages and both widths.
    QuickReply.objects.create(
        line=org.line, title="Greeting", shortcut="hello", text="Hello {client_name}!"
    )
    QuickReply.objects.create(title="Sign-off", text="Regards, {employee_name}", owner=org.op1)
    ApiToken.issue(f.integration("crm-sync"), "CRM sync")
    ApiToken.issue(org.op1, "Reports")
    screens = {
        "employees": "/settings/employees/",
        "employee": f"/settings/employees/{org.op1.pk}/",
        "deactivate": f"/settings/employees/{org.op1.pk}/deactivate/",
        "departments": "/settings/departments/",
        "role-matrix": f"/settings/roles/{role.pk}/",
        "quick-replies": "/settings/quick-replies/",
        "api-tokens": "/settings/api-tokens/",
    }
    for lang in ("en", "es"):
        User.objects.filter(username="admin").update(language=lang)
        for width, viewport in WIDTHS.items():
            context = chromium.new_context(viewport={"width": viewport[0], "height": viewport[1]})
            page = context.new_page()
            _login(page, base)
            for name, path in screens.items():
                page.goto(base + path)
                assert page.locator("html").get_attribute("lang") == lang
                screenshot(page, f"settings-people-{name}-{lang}-{width}.png")
            context.close()
