from convodesk.accounts.models import Role, User

from .. import factories as f


def test_an_employee_can_choose_their_language_and_it_sticks(client, org):
    client.force_login(org.op1)
    response = client.post(
        "/account/language/", {"language": "es", "next": "/contact-center/conversations/"}
    )
    assert response.status_code == 302 and response["Location"] == "/contact-center/conversations/"
    org.op1.refresh_from_db()
    assert org.op1.language == "es"
    page = client.get("/contact-center/conversations/", headers={"Accept-Language": "en"})
    assert page["Content-Language"] == "es"


def test_the_language_switch_refuses_unknown_languages_and_foreign_redirects(client, org):
    client.force_login(org.op1)
    response = client.post(
        "/account/language/", {"language": "xx", "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"
    org.op1.refresh_from_db()
    assert org.op1.language == ""


def test_a_new_employee_gets_the_manager_role(db):
    user = f.employee("newbie")
    assert list(user.roles.values_list("name", flat=True)) == ["Manager"]


def test_the_three_default_roles_are_installed(db):
    assert set(Role.objects.values_list("name", flat=True)) >= {
        "Administrator",
        "Chief executive",
        "Manager",
    }
    manager = Role.objects.get(name="Manager")
    assert (manager.view_conversations, manager.rate, manager.export, manager.edit_lines) == (
        10,
        0,
        30,
        0,
    )


def test_the_login_page_is_styled_and_logs_in(client, org):
    page = client.get("/login/")
    assert page.status_code == 200 and b"app.css" in page.content
    response = client.post("/login/", {"username": "op1", "password": "pass12345"})
    assert response.status_code == 302
    assert User.objects.get(username="op1").last_login is not None
