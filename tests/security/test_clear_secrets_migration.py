"""Connections the old API made kept their bot token and mailbox passwords in clear text;
connectors 0003 encrypts them in place, so they keep working and nothing reads them raw."""

from django.db import connection as db
from django.db.migrations.executor import MigrationExecutor

from convodesk.connectors import mail, telegram
from convodesk.lines.models import Connection
from tests import factories as f

BEFORE = [("connectors", "0002_skipped_messages")]
AFTER = [("connectors", "0003_encrypt_clear_secrets")]


def _migrate(targets):
    executor = MigrationExecutor(db)
    executor.loader.build_graph()
    executor.migrate(targets)


def test_secrets_stored_in_clear_by_the_old_api_are_encrypted_and_still_work(transactional_db):
    line = f.line("Shop")
    bot = f.connection(line, "telegram")
    box = f.connection(line, "email")
    try:
        _migrate(BEFORE)
        Connection.objects.filter(pk=bot.pk).update(
            config={"mode": "webhook", "bot_token": "123:ABC"}
        )
        Connection.objects.filter(pk=box.pk).update(
            config={
                "address": "help@example.com",
                "imap": {"host": "imap.example.com", "user": "help", "password": "imap-pw"},
                "smtp": {"host": "smtp.example.com", "user": "help", "password": "smtp-pw"},
            }
        )
        _migrate(AFTER)
    finally:
        _migrate(MigrationExecutor(db).loader.graph.leaf_nodes())
    bot.refresh_from_db()
    box.refresh_from_db()
    assert bot.config["bot_token"] != "123:ABC"
    assert telegram.bot_token(bot) == "123:ABC"
    assert "imap-pw" not in str(box.config) and "smtp-pw" not in str(box.config)
    assert mail._secret(box.config["imap"]) == "imap-pw"
    assert mail._secret(box.config["smtp"]) == "smtp-pw"


def test_secrets_already_encrypted_are_left_as_they_are(db):
    from convodesk.connectors.setup import encrypt_clear_secrets

    line = f.line("Shop")
    bot = f.connection(line, "telegram")
    telegram.set_bot_token(bot, "123:ABC")
    config, count = encrypt_clear_secrets(bot.config)
    assert count == 0 and config == bot.config
