"""No public key: production refuses to start without SECRET_KEY, `make run` writes a random key
of its own, stored secrets are re-encrypted by `rotate_key`, and `check --deploy` is clean with
the production settings README documents."""

import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from convodesk import crypto
from convodesk.connectors import mail, telegram
from convodesk.lines.models import Connection
from tests import factories as f

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {  # README, "Production"
    "DEBUG": "false",
    "ALLOWED_HOSTS": "cc.example.com",
    "PUBLIC_URL": "https://cc.example.com",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
    "SECURE_COOKIES": "true",
    "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
}


def outside_the_tests(var_dir, **env) -> dict:
    """The environment of a production start: no pytest marker, its own var folder and SQLite."""
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTEST_VERSION", "SECRET_KEY", "SECRET_KEY_FALLBACKS", "CONVODESK_TEST_DB")
        and not k.startswith("SECURE_")
    }
    base.pop("DATABASE_URL", None)
    return {**base, "DEBUG": "false", "CONVODESK_VAR_DIR": str(var_dir), **env}


def manage(*args, env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.nodb
def test_without_a_key_production_refuses_to_start_with_a_clear_message(tmp_path):
    done = manage("check", env=outside_the_tests(tmp_path))
    assert done.returncode != 0
    assert "ImproperlyConfigured: No SECRET_KEY: set the SECRET_KEY environment" in done.stderr
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.nodb
def test_make_run_writes_a_random_private_key_once_and_the_product_uses_it(tmp_path):
    first, second = tmp_path / "one", tmp_path / "two"
    for var in (first, second):
        env = outside_the_tests(var)
        made = subprocess.run(
            [sys.executable, "-m", "convodesk.keyfile"], cwd=ROOT, env=env, timeout=60
        )
        assert made.returncode == 0
    key = (first / "secret_key").read_text().strip()
    assert len(key) >= 50 and key != (second / "secret_key").read_text().strip()
    assert stat.S_IMODE((first / "secret_key").stat().st_mode) == 0o600
    shown = manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.SECRET_KEY)",
        env=outside_the_tests(first),
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip().splitlines()[-1] == key
    subprocess.run([sys.executable, "-m", "convodesk.keyfile"], cwd=ROOT, env=env, timeout=60)
    assert (first / "secret_key").read_text().strip() == key  # a second start keeps it
    makefile = (ROOT / "Makefile").read_text()
    assert "run: install\n\t$(PY) -m convodesk.keyfile\n" in makefile


@pytest.mark.nodb
def test_check_deploy_is_clean_with_the_documented_production_settings(tmp_path):
    key = secrets.token_urlsafe(50)
    done = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env=outside_the_tests(tmp_path, SECRET_KEY=key, **PRODUCTION),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout
    # Without them the same check names what is missing.
    bare = manage("check", "--deploy", env=outside_the_tests(tmp_path, SECRET_KEY=key))
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in bare.stderr + bare.stdout


def secrets_of(conn: Connection) -> list[str]:
    conn.refresh_from_db()
    return [
        conn.secret,
        telegram.bot_token(conn),
        crypto.decrypt(conn.config["imap"]["password"]),
    ]


def stored(conn: Connection) -> list[str]:
    conn.refresh_from_db()
    return [conn.secret_encrypted, conn.config["bot_token"], conn.config["imap"]["password"]]


@pytest.fixture
def keyed(settings, request):
    """A connection holding a secret, a bot token and a mailbox password under key "old" (the
    organisation's own connection too)."""
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "old-" + "k" * 50, []
    org = request.getfixturevalue("org")
    conn = f.connection(org.line, "email")
    telegram.set_bot_token(conn, "123:bot-token")  # nested and top-level secrets alike
    mail.configure(
        conn,
        address="a@shop.example",
        imap={"host": "h", "user": "u", "password": "imap-pw"},
        smtp={"host": "h"},
    )
    conn.save()
    return conn


@pytest.mark.django_db
def test_rotate_key_re_encrypts_every_stored_secret_under_the_new_key(settings, keyed):
    plain, before = secrets_of(keyed), stored(keyed)
    assert plain[1:] == ["123:bot-token", "imap-pw"]
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "new-" + "k" * 50, ["old-" + "k" * 50]
    assert secrets_of(keyed) == plain  # read through the fallback while rotating
    call_command("rotate_key", verbosity=0)
    after = stored(keyed)
    assert all(a != b for a, b in zip(after, before, strict=True))
    settings.SECRET_KEY_FALLBACKS = []  # the old key is gone: everything still reads
    assert secrets_of(keyed) == plain


@pytest.mark.django_db
def test_rotate_key_names_connections_no_key_reads_and_leaves_them_unchanged(settings, keyed, org):
    settings.SECRET_KEY = "lost-" + "k" * 50
    lost = f.connection(org.line, "api")
    lost_before = lost.secret_encrypted
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "new-" + "k" * 50, ["old-" + "k" * 50]
    with pytest.raises(CommandError, match=f"connections {lost.pk} "):
        call_command("rotate_key", verbosity=0)
    lost.refresh_from_db()
    assert lost.secret_encrypted == lost_before
    settings.SECRET_KEY_FALLBACKS = []
    assert secrets_of(keyed)[1:] == ["123:bot-token", "imap-pw"]  # the others were rotated


@pytest.mark.django_db
def test_rotate_key_new_key_replaces_the_installation_key_file(settings, keyed, tmp_path):
    path = tmp_path / "secret_key"
    path.write_text(settings.SECRET_KEY + "\n")
    settings.SECRET_KEY_FILE = path
    plain = secrets_of(keyed)
    call_command("rotate_key", "--new-key", verbosity=0)
    new = path.read_text().strip()
    assert new != "old-" + "k" * 50 and len(new) >= 50
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    settings.SECRET_KEY = new
    assert secrets_of(keyed) == plain

    settings.SECRET_KEY = "from-the-environment-" + "k" * 40  # not the file's key
    with pytest.raises(CommandError, match="SECRET_KEY environment variable"):
        call_command("rotate_key", "--new-key", verbosity=0)
