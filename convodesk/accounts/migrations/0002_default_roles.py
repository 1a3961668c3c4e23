from django.db import migrations

from convodesk.accounts.defaults import install_default_roles


def install(apps, schema_editor):
    install_default_roles(apps.get_model("accounts", "Role"))


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
