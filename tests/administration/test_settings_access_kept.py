"""Settings cannot be locked away, integration accounts stay API-only, and a settings
administrator cannot reach what is a superuser's. Found by the adversarial pass of issue 16."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from convodesk.accounts import services as people
from convodesk.accounts.models import Role, User
from convodesk.api.models import ApiToken
from convodesk.lines import services as line_services
from tests import factories as f
from tests.api.conftest import Api, token_for

STRONG = "Quartz-Lantern-47"
KEEP_ONE = "At least one active employee must keep access to the settings"


@pytest.fixture
def it_admin(db):
    """The installation's only settings administrator, and not a superuser."""
    f.role("Manager")
    return f.employee("it-admin", roles=["Administrator"])


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_last_settings_administrator_cannot_take_their_own_roles_away(it_admin):
    manager = Role.objects.get(name="Manager")
    response = _client(it_admin).post(
        reverse("administration:employee", args=[it_admin.pk]),
        {"display_name": "IT", "roles": [manager.pk], "time_zone": "UTC", "language": ""},
    )
    assert response.status_code == 400
    assert KEEP_ONE in response.content.decode()
    assert list(it_admin.roles.values_list("name", flat=True)) == ["Administrator"]


def test_with_a_second_administrator_the_first_may_step_down(it_admin):
    f.employee("deputy", roles=["Administrator"])
    manager = Role.objects.get(name="Manager")
    people.update_employee(it_admin, it_admin, roles=[manager])
    assert list(it_admin.roles.values_list("name", flat=True)) == ["Manager"]


def test_the_last_settings_administrator_cannot_be_deactivated_through_the_api(it_admin):
    helper = f.employee("helper", roles=["Administrator"])
    api = Api(token_for(helper))
    assert api.patch(f"/employees/{it_admin.pk}", {"active": False})[0] == 200
    # helper is now the only one left: nobody may switch them off, not even through a role.
    with pytest.raises(people.Invalid) as refused:
        people.deactivate_employee(it_admin, helper)
    assert KEEP_ONE in refused.value.errors["active"]
    helper.refresh_from_db()
    assert helper.is_active


def test_the_settings_permission_cannot_be_taken_from_the_only_role_that_gives_it(it_admin):
    administrator = Role.objects.get(name="Administrator")
    with pytest.raises(people.Invalid) as refused:
        people.update_role(it_admin, administrator, levels={"settings": 0})
    assert KEEP_ONE in refused.value.errors["levels.settings"]
    administrator.refresh_from_db()
    assert administrator.settings == 30


def test_a_department_role_counts_as_access_to_the_settings(it_admin):
    it = f.department("IT")
    ops = f.department("Operations", parent=it)
    administrator = Role.objects.get(name="Administrator")
    people.update_role(it_admin, administrator, departments=[it.pk])
    night = f.employee("night", departments=[ops])
    manager = Role.objects.get(name="Manager")
    # it-admin steps down: night still reaches settings through IT's role (sub-departments too).
    people.update_employee(it_admin, it_admin, roles=[manager])
    assert set(people.settings_administrators()) == {night}
    with pytest.raises(people.Invalid):
        people.update_department(night, ops, parent=None)  # would cut night off
    ops.refresh_from_db()
    assert ops.parent_id == it.pk


def test_an_integration_account_cannot_get_a_password_or_a_browser_session(it_admin):
    robot = people.create_employee(it_admin, username="crm-sync", is_integration=True, roles=[])
    with pytest.raises(people.Invalid) as refused:
        people.update_employee(it_admin, robot, password=STRONG)
    assert "password" in refused.value.errors
    with pytest.raises(people.Invalid):
        people.create_employee(it_admin, username="bot2", is_integration=True, password=STRONG)
    # A password set from a shell (or by an older version) still opens no browser session.
    robot.set_password(STRONG)
    robot.save()
    assert not Client().login(username="crm-sync", password=STRONG)
    response = Client().post(reverse("login"), {"username": "crm-sync", "password": STRONG})
    assert response.status_code == 200 and "_auth_user_id" not in response.wsgi_request.session
    # Its API token still works: that is what an integration is for.
    status, _body = Api(token_for(robot)).get("/conversations")
    assert status == 200


def test_a_settings_administrator_cannot_revoke_a_superusers_token(it_admin):
    root = f.employee("root", superuser=True)
    token = ApiToken.issue(root, "deploy")[0]
    url = reverse("administration:api_token_revoke", args=[token.pk])
    assert _client(it_admin).post(url).status_code == 403
    token.refresh_from_db()
    assert token.revoked_at is None
    assert _client(root).post(url).status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


@pytest.mark.parametrize("zone", ["localtime", "Factory", "posixrules", "Mars/Olympus"])
def test_time_zones_that_are_not_places_are_refused(it_admin, zone):
    with pytest.raises(people.Invalid) as refused:
        people.update_employee(it_admin, it_admin, time_zone=zone)
    assert "time_zone" in refused.value.errors
    with pytest.raises(line_services.LineInvalid) as refused_line:
        line_services.create_line(it_admin, name="Night shift", time_zone=zone)
    assert "time_zone" in refused_line.value.errors
    assert User.objects.get(pk=it_admin.pk).time_zone == "UTC"
