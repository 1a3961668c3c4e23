"""Encrypt the secrets that connections made through the old API kept in clear text."""

from django.db import migrations


def encrypt_clear_secrets(apps, schema_editor):
    from convodesk.connectors.setup import encrypt_clear_secrets as encrypt

    Connection = apps.get_model("lines", "Connection")
    for conn in Connection.objects.only("id", "config").iterator():
        config, count = encrypt(conn.config)
        if count:
            Connection.objects.filter(pk=conn.pk).update(config=config)


class Migration(migrations.Migration):
    dependencies = [("connectors", "0002_skipped_messages")]

    operations = [migrations.RunPython(encrypt_clear_secrets, migrations.RunPython.noop)]
