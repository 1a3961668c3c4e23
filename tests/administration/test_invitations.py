"""Invitations (issue 16, item 3): an administrator invites a new employee, who chooses their own
password from a link that works once; without system mail the link is shown to pass on."""

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from convodesk.accounts import invitations
from convodesk.accounts.models import User
from convodesk.audit.models import AuditEntry
from tests import factories as f

NEW_PASSWORD = "Harbour-Lantern-58"


@pytest.fixture
def admin_client(db):
    f.role("Manager")
    client = Client()
    client.force_login(f.employee("root", superuser=True))
    return client


@pytest.fixture
def system_mail(settings):
    settings.CONVODESK = {**settings.CONVODESK, "SYSTEM_MAIL": True}


def _add(admin_client, **extra):
    form = {"username": "nuria", "display_name": "Nuria Gil", "email": "nuria@example.com"}
    form.update({"time_zone": "Europe/Madrid", "language": "es", "invite": "on", **extra})
    return admin_client.post(reverse("administration:employee_create"), form)


def _link(text: str) -> str:
    return re.search(r"https?://\S+/account/welcome/\S+/", text).group(0)


def test_an_invited_employee_gets_a_mail_in_their_language_and_chooses_a_password(
    admin_client, system_mail
):
    response = _add(admin_client)
    nuria = User.objects.get(username="nuria")
    assert response.status_code == 302 and not nuria.has_usable_password()
    [sent] = mail.outbox
    assert sent.to == ["nuria@example.com"] and "Convodesk" in sent.subject
    assert "Hola Nuria Gil" in sent.body and "nuria" in sent.body  # Spanish, with the username
    path = _link(sent.body).split("testserver", 1)[1]

    visitor = Client()
    form_page = visitor.get(path, follow=True)
    assert "new_password1" in form_page.content.decode()
    done = visitor.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert done.status_code == 302 and done.url == reverse("conversations:list")
    assert visitor.get(reverse("conversations:list")).status_code == 200  # logged in
    nuria.refresh_from_db()
    assert nuria.check_password(NEW_PASSWORD)
    # The link works once.
    again = Client().get(path, follow=True).content.decode()
    assert "no longer works" in again or "ya no funciona" in again
    assert AuditEntry.objects.filter(object_id=str(nuria.pk), after__invitation__isnull=False)


def test_without_system_mail_the_link_is_shown_once_to_the_administrator(admin_client):
    response = _add(admin_client)
    assert response.status_code == 200 and not mail.outbox
    link = _link(response.content.decode())
    assert "/account/welcome/" in link


def test_a_password_and_an_invitation_together_are_refused_beside_the_field(admin_client):
    response = _add(admin_client, password=NEW_PASSWORD)
    assert response.status_code == 400
    assert "not both" in response.content.decode()
    assert not User.objects.filter(username="nuria").exists()


def test_an_invitation_needs_an_address_when_mail_is_sent(admin_client, system_mail):
    _add(admin_client, email="")
    nuria = User.objects.get(username="nuria")
    assert not mail.outbox
    page = admin_client.get(reverse("administration:employee", args=[nuria.pk]), follow=True)
    assert "e-mail address the invitation goes to" in page.content.decode()


def test_integration_accounts_and_superusers_cannot_be_invited_by_a_settings_admin(db):
    it = f.employee("it-admin", roles=["Administrator"])
    robot = f.employee("robot", is_integration=True)
    with pytest.raises(invitations.CannotInvite):
        invitations.invite(it, robot, "http://testserver/")
    root = f.employee("root", superuser=True)
    client = Client()
    client.force_login(it)
    assert client.post(reverse("administration:employee_invite", args=[root.pk])).status_code == 403
    # A link made for an integration account opens nothing either.
    path = invitations.link(robot, "").split("http", 1)[-1]
    assert "no longer works" in Client().get(path, follow=True).content.decode()


def test_a_made_up_link_says_it_no_longer_works(db):
    page = Client().get("/account/welcome/MQ/set-password/").content.decode()
    assert "no longer works" in page
