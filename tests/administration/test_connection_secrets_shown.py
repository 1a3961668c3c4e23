"""What a connection's settings may show back and read (adversarial pass of issue 16): a webhook
URL's credentials are masked wherever it is shown and kept when the masked form is saved back;
a mail connection's CA file is read only from the configured CA folders, and the answer does not
say whether some other file exists."""

import json

import pytest

from convodesk import crypto
from convodesk.audit.models import AuditEntry
from convodesk.connectors import setup
from convodesk.lines.models import Connection
from tests.administration.test_connections import html_of
from tests.api.conftest import Api, token_for

HOOK = "https://sync:Hunter2-pass@crm.example/hook?tenant=7&api_key=AbC123"


@pytest.fixture
def admin_client(client, org):
    client.force_login(org.admin)
    return client


@pytest.mark.django_db
def test_a_webhook_urls_password_and_key_are_masked_on_every_screen_and_in_the_api(
    admin_client, org
):
    conn, _secret = setup.create_connection(
        org.line, "api", "CRM", {"webhook_url": HOOK}, actor=org.admin
    )
    shown = crypto.mask_url(HOOK)
    assert shown == "https://sync:***@crm.example/hook?tenant=7&api_key=***"
    for page in (
        html_of(admin_client.get("/settings/connections/")),
        html_of(admin_client.get(f"/settings/connections/{conn.pk}/")),
    ):
        assert "Hunter2-pass" not in page and "AbC123" not in page
    status, body = Api(token_for(org.admin)).get(f"/lines/{org.line.pk}/connections/{conn.pk}")
    assert status == 200 and "Hunter2-pass" not in json.dumps(body)
    assert "Hunter2-pass" not in json.dumps(list(AuditEntry.objects.values("before", "after")))


@pytest.mark.django_db
def test_saving_the_form_with_the_masked_url_keeps_the_real_one(admin_client, org):
    conn, _secret = setup.create_connection(org.line, "api", "CRM", {"webhook_url": HOOK})
    response = admin_client.post(
        f"/settings/connections/{conn.pk}/",
        {"name": "CRM renamed", "active": "on", "webhook_url": crypto.mask_url(HOOK)},
    )
    assert response.status_code == 302
    conn.refresh_from_db()
    assert conn.name == "CRM renamed" and conn.config["webhook_url"] == HOOK
    # A new URL typed in full replaces it.
    admin_client.post(
        f"/settings/connections/{conn.pk}/",
        {"name": "CRM", "active": "on", "webhook_url": "https://other.example/h"},
    )
    conn.refresh_from_db()
    assert conn.config["webhook_url"] == "https://other.example/h"


@pytest.mark.parametrize(
    "path",
    ["/etc/passwd", "/root/.ssh/id_rsa", "/etc/ssl/certs/../../shadow", "relative.pem", "/nowhere"],
)
@pytest.mark.django_db
def test_a_ca_file_outside_the_ca_folders_is_refused_without_saying_whether_it_exists(org, path):
    config = {
        "address": "help@shop.example",
        "imap": {"host": "mail.example", "user": "help", "password": "pw", "ca_file": path},
        "smtp": {"host": "mail.example"},
    }
    with pytest.raises(setup.ConnectionInvalid) as refused:
        setup.prepare(Connection.Kind.EMAIL, config, probe=False)
    message = refused.value.errors["config.imap.ca_file"]
    assert message.startswith("Put the CA file in one of these folders")
    assert "No such file" not in message


@pytest.mark.django_db
def test_a_ca_file_inside_the_ca_folders_is_accepted(org, settings, tmp_path):
    settings.CONVODESK = {**settings.CONVODESK, "MAIL_CA_DIRS": [str(tmp_path)]}
    config = {
        "address": "help@shop.example",
        "imap": {"host": "mail.example", "user": "help", "password": "pw"},
        "smtp": {"host": "mail.example", "ca_file": str(tmp_path / "company-ca.pem")},
    }
    stored = setup.prepare(Connection.Kind.EMAIL, config, probe=False)
    assert stored["smtp"]["ca_file"] == str(tmp_path / "company-ca.pem")


def test_text_that_is_not_a_url_is_left_alone():
    assert crypto.mask_url("user:pass@host") == "user:pass@host"
    assert crypto.mask_url("https://plain.example/p?x=1") == "https://plain.example/p?x=1"
    assert crypto.mask_url("https://[::1") == "https://[::1"
    assert crypto.mask_secrets({"url": "https://a:b@h/"}) == {"url": "https://a:***@h/"}
