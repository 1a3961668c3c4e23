"""Settings › Employees, Departments, Roles: one writer (accounts/services.py) for the screens and
the API, validation beside the field, audit entries without passwords, deactivation that ends
access, a role matrix that saves exactly what was chosen, and paging that stays cheap."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.hashers import make_password
from django.test import Client

from convodesk.accounts import services as people
from convodesk.accounts.models import Department, DepartmentRole, Role, User
from convodesk.api.models import ApiToken, LoginSession
from convodesk.audit.models import AuditEntry
from tests import factories as f
from tests.api.conftest import Api, token_for

STRONG = "Quartz-Lantern-47"


@pytest.fixture
def admin(db):
    f.role("Manager")
    return f.employee("boss", superuser=True)


@pytest.fixture
def admin_client(admin):
    client = Client()
    client.force_login(admin)
    return client


def _field_error(response, field: str) -> str:
    """The error printed beside one field (the page marks its container)."""
    html = response.content.decode()
    start = html.index(f'id="field-{field}"')
    block = html[start : html.index("</div>", start)]
    assert 'class="pp-error"' in block, block
    return block


# Employees -----------------------------------------------------------------------------


def test_an_administrator_adds_an_employee_with_departments_roles_language_and_time_zone(
    admin, admin_client
):
    sales = f.department("Sales")
    manager = f.role("Manager")
    response = admin_client.post(
        "/settings/employees/new/",
        {
            "username": "maria",
            "display_name": "María López",
            "email": "maria@example.com",
            "password": STRONG,
            "departments": [sales.pk],
            "roles": [manager.pk],
            "language": "es",
            "time_zone": "Europe/Madrid",
        },
    )
    maria = User.objects.get(username="maria")
    assert response.status_code == 302 and response.url == f"/settings/employees/{maria.pk}/"
    assert maria.check_password(STRONG) and maria.name == "María López"
    assert list(maria.departments.all()) == [sales] and list(maria.roles.all()) == [manager]
    assert (maria.language, maria.time_zone) == ("es", "Europe/Madrid")
    assert Client().login(username="maria", password=STRONG)


def test_an_unknown_time_zone_and_a_weak_password_are_refused_beside_their_fields(admin_client):
    response = admin_client.post(
        "/settings/employees/new/",
        {"username": "weak", "password": "123", "time_zone": "Mars/Olympus", "language": ""},
    )
    assert response.status_code == 400
    assert "Unknown time zone" in _field_error(response, "time_zone")
    assert "too short" in _field_error(response, "password")
    assert not User.objects.filter(username="weak").exists()  # nothing half-written


def test_a_password_like_the_username_is_refused_on_edit(admin_client):
    emp = f.employee("bartholomew")
    response = admin_client.post(
        f"/settings/employees/{emp.pk}/",
        {"display_name": "", "email": "", "password": "bartholomew1", "time_zone": "UTC"},
    )
    assert response.status_code == 400
    assert "similar" in _field_error(response, "password")


def test_the_audit_log_records_an_employee_but_never_the_password(admin, admin_client):
    admin_client.post(
        "/settings/employees/new/",
        {"username": "kim", "password": STRONG, "time_zone": "Asia/Seoul"},
    )
    kim = User.objects.get(username="kim")
    admin_client.post(
        f"/settings/employees/{kim.pk}/",
        {"display_name": "Kim", "password": "Another-Lantern-58", "time_zone": "Asia/Seoul"},
    )
    entries = AuditEntry.objects.filter(object_type="user", object_id=str(kim.pk)).order_by("id")
    assert [e.action for e in entries] == ["create", "update"]
    assert entries[0].actor == admin and entries[0].after["time_zone"] == "Asia/Seoul"
    assert entries[1].after["display_name"] == "Kim" and entries[1].after["log_in"] == "changed"
    dump = json.dumps([[e.before, e.after] for e in entries])
    assert STRONG not in dump and "Another-Lantern" not in dump
    assert "password" not in dump and "pbkdf2" not in dump and "***" not in dump


def test_deactivating_through_the_screen_ends_sessions_and_tokens(admin, admin_client):
    emp = f.employee("leaving")
    browser = Client()
    assert browser.login(username="leaving", password="pass12345")
    assert browser.get("/contact-center/workspace/").status_code == 200
    token = token_for(emp)
    assert Api(token).get("/me")[0] == 200
    confirm = admin_client.get(f"/settings/employees/{emp.pk}/deactivate/")
    html = confirm.content.decode()
    assert confirm.status_code == 200 and "1 log-in session is ended" in html
    assert "disconnected" in html and "1 API token is revoked" in html
    assert User.objects.get(pk=emp.pk).is_active  # a GET only asks
    done = admin_client.post(f"/settings/employees/{emp.pk}/deactivate/", follow=True)
    assert "is deactivated" in done.content.decode()
    assert not User.objects.get(pk=emp.pk).is_active
    assert not LoginSession.objects.filter(user=emp).exists()
    assert browser.get("/contact-center/workspace/").status_code == 302  # logged out
    assert Api(token).get("/me")[0] == 401
    assert AuditEntry.objects.filter(action="deactivate", object_id=str(emp.pk)).count() == 1
    # Reactivated, they log in again; the old token stays revoked.
    admin_client.post(f"/settings/employees/{emp.pk}/reactivate/")
    assert User.objects.get(pk=emp.pk).is_active
    assert Client().login(username="leaving", password="pass12345")
    assert ApiToken.objects.get(user=emp).revoked_at is not None


def test_an_administrator_cannot_deactivate_themselves(admin, admin_client):
    admin_client.post(f"/settings/employees/{admin.pk}/deactivate/")
    assert User.objects.get(pk=admin.pk).is_active


def test_the_employee_list_searches_name_username_and_email(admin_client):
    f.employee("alpha", display_name="Ana Pérez", email="ana@north.example")
    f.employee("bravo", display_name="Bruno", email="bruno@south.example")
    for q, found, hidden in (
        ("pérez", "alpha", "bravo"),
        ("BRAV", "bravo", "alpha"),
        ("south.example", "bravo", "alpha"),
    ):
        html = admin_client.get("/settings/employees/", {"q": q}).content.decode()
        assert found in html and f">{hidden}<" not in html and hidden + " ·" not in html
    # Search as you type (htmx) gets the rows alone, without the page around them.
    rows = admin_client.get("/settings/employees/", {"q": "ana"}, HTTP_HX_REQUEST="true")
    assert "alpha" in rows.content.decode() and "settings-nav" not in rows.content.decode()


@pytest.mark.django_db
def test_the_employee_list_stays_a_few_queries_at_ten_thousand_employees(
    admin_client, django_assert_max_num_queries
):
    sales = f.department("Sales")
    pw = make_password(None)
    User.objects.bulk_create(
        [
            User(username=f"emp{i:05d}", display_name=f"Employee {i}", password=pw)
            for i in range(10_000)
        ],
        batch_size=2000,
    )
    Through = User.departments.through
    ids = User.objects.filter(username__startswith="emp").values_list("pk", flat=True)
    Through.objects.bulk_create([Through(user_id=i, department_id=sales.pk) for i in ids])
    with django_assert_max_num_queries(12):
        response = admin_client.get("/settings/employees/", {"page": "150"})
    html = response.content.decode()
    assert response.status_code == 200 and "emp07450" in html and "10001 employees" in html
    with django_assert_max_num_queries(12):
        searched = admin_client.get("/settings/employees/", {"q": "Employee 9999"})
    assert "emp09999" in searched.content.decode()


# Departments ---------------------------------------------------------------------------


def test_departments_show_as_a_tree_with_their_supervisors(admin_client):
    sales = f.department("Sales")
    east = f.department("East", parent=sales)
    lead = f.employee("lead", departments=[east], display_name="Lena Lead")
    lead.roles.add(Role.objects.create(name="Supervisor", view_conversations=20))
    f.employee("plain", departments=[east], display_name="Paul Plain")
    html = admin_client.get("/settings/departments/").content.decode()
    assert html.index(">Sales<") < html.index(">East<")
    assert 'class="pp-indent pp-depth-1"' in html
    row = html[html.index(f'data-department="{east.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "Lena Lead" in row and "Paul Plain" not in row


def test_a_department_cannot_be_moved_inside_its_own_sub_department(admin, admin_client):
    sales = f.department("Sales")
    east = f.department("East", parent=sales)
    response = admin_client.post(
        f"/settings/departments/{sales.pk}/", {"name": "Sales", "parent": east.pk}
    )
    assert response.status_code == 400
    assert "cannot be inside itself" in _field_error(response, "parent")
    assert Department.objects.get(pk=sales.pk).parent_id is None
    # The API goes through the same service and says the same.
    status, error = Api(token_for(admin)).patch(f"/departments/{sales.pk}", {"parent": east.pk})
    assert status == 422 and "cannot be inside itself" in error["error"]["details"]["parent"]


def test_creating_and_moving_a_department_is_audited(admin, admin_client):
    admin_client.post("/settings/departments/new/", {"name": "Support", "parent": ""})
    support = Department.objects.get(name="Support")
    top = f.department("Customers")
    admin_client.post(f"/settings/departments/{support.pk}/", {"name": "Support", "parent": top.pk})
    entries = AuditEntry.objects.filter(object_type="department", object_id=str(support.pk))
    assert sorted(e.action for e in entries) == ["create", "update"]
    assert entries.get(action="update").after["parent_id"] == top.pk


# Roles ---------------------------------------------------------------------------------


def _matrix(name: str, **levels) -> dict:
    data = {"name": name}
    data.update({p: lvls[0].value for p, (_l, lvls) in people.PERMISSIONS.items()})
    data.update(levels)
    return data


def test_the_role_matrix_saves_exactly_the_chosen_levels(admin, admin_client):
    sales = f.department("Sales")
    chosen = {"view_conversations": 20, "act": 20, "export": 30, "view_crm": 20, "edit_crm": 10}
    response = admin_client.post(
        "/settings/roles/new/", {**_matrix("Team lead", **chosen), "departments": [sales.pk]}
    )
    role = Role.objects.get(name="Team lead")
    assert response.status_code == 302
    expected = {p: lvls[0].value for p, (_l, lvls) in people.PERMISSIONS.items()} | chosen
    assert role.levels() == expected
    assert list(DepartmentRole.objects.filter(role=role).values_list("department", flat=True)) == [
        sales.pk
    ]
    entry = AuditEntry.objects.get(object_type="role", object_id=str(role.pk))
    assert entry.after["view_conversations"] == 20 and entry.after["departments"] == [sales.pk]


def test_the_role_matrix_offers_only_the_levels_a_permission_has(admin_client):
    html = admin_client.get("/settings/roles/new/").content.decode()
    assert 'name="export" value="30"' in html and 'name="export" value="10"' not in html
    assert 'name="act" value="0"' not in html and 'name="view_crm" value="20"' in html
    assert 'name="edit_crm" value="20"' in html  # CRM permissions are rows too
    # A new role starts at each permission's lowest level, "none" included.
    assert 'name="export" value="0" checked' in html and 'name="act" value="10" checked' in html


def test_the_role_matrix_refuses_a_level_the_permission_does_not_have(admin_client):
    role = Role.objects.create(name="Helpdesk")
    response = admin_client.post(f"/settings/roles/{role.pk}/", _matrix("Helpdesk", export=20))
    assert response.status_code == 400
    html = response.content.decode()
    row = html[html.index('id="perm-export"') : html.index('id="perm-view_lines"')]
    assert "allows only: None, All" in row
    assert Role.objects.get(pk=role.pk).export == 0


def test_the_api_writes_roles_and_employees_through_the_same_audited_services(admin):
    api = Api(token_for(admin))
    status, role = api.post("/roles", {"name": "Auditor", "levels": {"view_history": 30}})
    assert status == 201
    status, emp = api.post(
        "/employees",
        {"username": "api-made", "password": STRONG, "roles": [role["id"]], "time_zone": "UTC"},
    )
    assert status == 201
    status, error = api.patch(f"/employees/{emp['id']}", {"time_zone": "Nowhere/City"})
    assert status == 422 and "time_zone" in error["error"]["details"]
    assert AuditEntry.objects.filter(object_type="role", object_id=str(role["id"])).exists()
    entry = AuditEntry.objects.get(object_type="user", object_id=str(emp["id"]))
    assert entry.actor == admin and STRONG not in json.dumps(entry.after)
    status, _ = api.patch(f"/employees/{emp['id']}", {"active": False})
    assert status == 200 and not User.objects.get(pk=emp["id"]).is_active
    assert AuditEntry.objects.filter(action="deactivate", object_id=str(emp["id"])).exists()


def test_a_settings_administrator_who_is_not_a_superuser_cannot_change_a_superuser(db):
    """Adversarial pass: the settings permission must not reach the superuser's password."""
    boss = f.employee("root", superuser=True)
    settings_admin = f.employee("it-admin", roles=["Administrator"])
    api = Api(token_for(settings_admin))
    status, body = api.patch(f"/employees/{boss.pk}", {"password": "Takeover-2026!x"})
    assert status == 403, body
    status, _body = api.patch(f"/employees/{boss.pk}", {"active": False})
    assert status == 403
    boss.refresh_from_db()
    assert boss.is_active and boss.check_password("pass12345")
    client = Client()
    client.force_login(settings_admin)
    assert client.post(f"/settings/employees/{boss.pk}/deactivate/").status_code == 403
    other = f.employee("agent")
    status, _body = api.patch(f"/employees/{other.pk}", {"name": "Agent Smith"})
    assert status == 200  # everyone else they may still manage


def test_nobody_deactivates_themselves_through_the_api_either(db):
    """Second adversarial pass: the screen refused it, the service did not."""
    boss = f.employee("root2", superuser=True)
    api = Api(token_for(boss))
    status, body = api.patch(f"/employees/{boss.pk}", {"active": False})
    assert status == 422 and "active" in body["error"]["details"], body
    boss.refresh_from_db()
    assert boss.is_active


def test_names_typed_with_control_characters_are_stored_clean(admin_client, admin):
    dep = people.create_department(admin, name="Sales\x07\x1b[31m")
    assert dep.name == "Sales[31m"
