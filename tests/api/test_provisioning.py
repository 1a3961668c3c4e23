"""Administrators provision departments, employees, roles, open channels and connections."""

import pytest

from convodesk import crypto
from convodesk.accounts.models import User
from convodesk.lines.models import Connection, Line

from .conftest import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_api(org, api_as):
    return api_as(org.admin)


def test_departments_are_created_listed_and_changed(admin_api):
    status, parent = admin_api.post("/departments", {"name": "Care"})
    assert status == 201 and parent["parent"] is None
    status, child = admin_api.post("/departments", {"name": "Care night", "parent": parent["id"]})
    assert status == 201 and child["parent"] == parent["id"]
    status, changed = admin_api.patch(f"/departments/{child['id']}", {"name": "Care nights"})
    assert (status, changed["name"]) == (200, "Care nights")
    assert any(d["id"] == child["id"] for d in admin_api.get("/departments")[1])
    assert admin_api.get(f"/departments/{child['id']}")[1]["name"] == "Care nights"


def test_department_validation_names_the_field(admin_api):
    assert "name" in assert_error(admin_api.post("/departments", {"name": ""}), 422)["details"]
    assert (
        "parent"
        in assert_error(admin_api.post("/departments", {"name": "X", "parent": 999999}), 422)[
            "details"
        ]
    )
    status, dep = admin_api.post("/departments", {"name": "Loop"})
    error = assert_error(admin_api.patch(f"/departments/{dep['id']}", {"parent": dep["id"]}), 422)
    assert "parent" in error["details"]
    assert_error(admin_api.get("/departments/999999"), 404, "not_found")


def test_provisioning_is_for_administrators_only(org, api_as, anon):
    for user in (org.op1, org.supervisor):
        api = api_as(user)
        assert_error(api.get("/departments"), 403, "forbidden")
        assert_error(api.post("/employees", {"username": "x"}), 403)
        assert_error(api.post("/lines", {"name": "x"}), 403)
        assert_error(api.get(f"/lines/{org.line.pk}/connections"), 403)
    assert_error(anon.get("/roles"), 401)


def test_an_employee_is_created_with_departments_roles_and_a_password(org, admin_api, client):
    status, body = admin_api.post(
        "/employees",
        {
            "username": "newbie",
            "name": "New Bie",
            "email": "newbie@example.com",
            "password": "long-password-1",
            "departments": [org.sales.pk],
            "roles": ["Chief executive"],
        },
    )
    assert status == 201, body
    assert (
        body["departments"] == [org.sales.pk]
        and body["name"] == "New Bie"
        and body["active"] is True
    )
    user = User.objects.get(username="newbie")
    assert list(user.roles.values_list("name", flat=True)) == ["Chief executive"]
    assert client.login(username="newbie", password="long-password-1")
    status, body = admin_api.patch(f"/employees/{user.pk}", {"active": False, "roles": []})
    assert status == 200 and body["active"] is False and body["roles"] == []


def test_a_new_employee_without_roles_gets_manager(admin_api):
    status, body = admin_api.post("/employees", {"username": "plain"})
    assert status == 201
    assert list(User.objects.get(pk=body["id"]).roles.values_list("name", flat=True)) == ["Manager"]
    assert not User.objects.get(pk=body["id"]).has_usable_password()


def test_employee_validation_names_each_bad_field(org, admin_api):
    assert (
        "username"
        in assert_error(admin_api.post("/employees", {"username": "op1"}), 422)["details"]
    )
    assert (
        "username"
        in assert_error(admin_api.post("/employees", {"username": "bad name!"}), 422)["details"]
    )
    assert (
        "email"
        in assert_error(admin_api.post("/employees", {"username": "e1", "email": "nope"}), 422)[
            "details"
        ]
    )
    assert (
        "password"
        in assert_error(admin_api.post("/employees", {"username": "e2", "password": "short"}), 422)[
            "details"
        ]
    )
    assert (
        "departments"
        in assert_error(
            admin_api.post("/employees", {"username": "e3", "departments": [987654]}), 422
        )["details"]
    )
    assert (
        "roles"
        in assert_error(admin_api.post("/employees", {"username": "e4", "roles": ["Nope"]}), 422)[
            "details"
        ]
    )


def test_roles_hold_a_valid_level_per_permission(admin_api):
    status, role = admin_api.post(
        "/roles", {"name": "Auditor", "levels": {"view_conversations": 30, "export": 30}}
    )
    assert (
        status == 201 and role["levels"]["view_conversations"] == 30 and role["levels"]["rate"] == 0
    )
    error = assert_error(admin_api.post("/roles", {"name": "Bad", "levels": {"export": 20}}), 422)
    assert "levels.export" in error["details"]
    error = assert_error(admin_api.post("/roles", {"name": "Bad", "levels": {"fly": 30}}), 422)
    assert "levels.fly" in error["details"]
    assert "name" in assert_error(admin_api.post("/roles", {"name": "Auditor"}), 422)["details"]
    status, changed = admin_api.patch(f"/roles/{role['id']}", {"levels": {"view_history": 10}})
    assert status == 200 and changed["levels"]["view_history"] == 10


def test_an_open_channel_is_created_with_members_in_order(org, admin_api):
    status, line = admin_api.post(
        "/lines",
        {
            "name": "Support",
            "members": [org.op3.pk, org.op1.pk],
            "distribution": "evenly",
            "auto_close_minutes": 30,
            "queue_timeout_seconds": 45,
            "reopen_window_minutes": 5,
            "crm_binding": "contact",
        },
    )
    assert status == 201, line
    assert line["members"] == [org.op3.pk, org.op1.pk] and line["distribution"] == "evenly"
    assert Line.objects.get(pk=line["id"]).queue_timeout_seconds == 45
    status, changed = admin_api.patch(
        f"/lines/{line['id']}", {"members": [org.op2.pk], "name": "Support 2"}
    )
    assert status == 200 and changed["members"] == [org.op2.pk] and changed["name"] == "Support 2"


def test_an_open_channels_reply_time_targets_are_set_and_removed_through_the_api(org, admin_api):
    status, line = admin_api.post(
        "/lines",
        {"name": "Support", "sla_first_seconds": 900, "sla_next_seconds": 3600,
         "sla_next_business": False, "sla_mail": True},
    )  # fmt: skip
    assert status == 201, line
    assert (line["sla_first_seconds"], line["sla_first_business"]) == (900, True)
    assert (line["sla_next_seconds"], line["sla_next_business"], line["sla_mail"]) == (
        3600,
        False,
        True,
    )
    status, changed = admin_api.patch(f"/lines/{line['id']}", {"sla_first_seconds": None})
    assert status == 200 and changed["sla_first_seconds"] is None
    assert changed["sla_next_seconds"] == 3600
    assert (
        "sla_next_seconds"
        in assert_error(admin_api.patch(f"/lines/{line['id']}", {"sla_next_seconds": 0}), 422)[
            "details"
        ]
    )


def test_open_channel_validation(org, admin_api):
    assert (
        "distribution"
        in assert_error(admin_api.post("/lines", {"name": "X", "distribution": "random"}), 422)[
            "details"
        ]
    )
    assert (
        "members"
        in assert_error(admin_api.post("/lines", {"name": "X", "members": [424242]}), 422)[
            "details"
        ]
    )
    assert (
        "queue_timeout_seconds"
        in assert_error(admin_api.post("/lines", {"name": "X", "queue_timeout_seconds": 0}), 422)[
            "details"
        ]
    )
    assert_error(admin_api.patch("/lines/424242", {"name": "Y"}), 404)


def test_a_connection_is_created_with_its_secret_shown_once(org, admin_api):
    path = f"/lines/{org.line.pk}/connections"
    status, conn = admin_api.post(
        path, {"kind": "api", "name": "Shop", "config": {"webhook_url": "http://127.0.0.1:9/x"}}
    )
    assert status == 201, conn
    stored = Connection.objects.get(pk=conn["id"])
    assert conn["secret"] and stored.secret == conn["secret"]
    assert (
        stored.secret_hash == crypto.hash_token(conn["secret"])
        and conn["secret"] not in stored.secret_encrypted
    )
    listed = admin_api.get(path)[1]
    assert [c["id"] for c in listed if c["id"] == conn["id"]] and all(
        "secret" not in c for c in listed
    )
    assert "secret" not in admin_api.get(f"{path}/{conn['id']}")[1]
    status, rotated = admin_api.post(f"{path}/{conn['id']}/rotate-secret")
    assert status == 200 and rotated["secret"] != conn["secret"]


def test_connection_validation(org, admin_api):
    path = f"/lines/{org.line.pk}/connections"
    assert (
        "kind" in assert_error(admin_api.post(path, {"kind": "fax", "name": "X"}), 422)["details"]
    )
    error = assert_error(
        admin_api.post(path, {"kind": "api", "name": "X", "config": {"webhook_url": "ftp://x"}}),
        422,
    )
    assert "config.webhook_url" in error["details"]
    assert_error(admin_api.post("/lines/424242/connections", {"kind": "api", "name": "X"}), 404)


def test_malformed_json_is_a_400_not_a_500(org, admin_api):
    response = admin_api.client.post(
        "/api/v1/departments",
        data="{nope",
        content_type="application/json",
        **admin_api.headers(None),
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_request"
