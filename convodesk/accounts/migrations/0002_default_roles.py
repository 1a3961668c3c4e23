from django.db import migrations

NONE, OWN, DEPARTMENT, ALL = 0, 10, 20, 30

DEFAULT_ROLES = {
    "Administrator": dict(view_conversations=ALL, view_history=ALL, view_statistics=ALL, act=ALL, rate=ALL,
                          export=ALL, view_lines=ALL, edit_lines=ALL, settings=ALL),
    "Chief executive": dict(view_conversations=ALL, view_history=ALL, view_statistics=ALL, act=ALL, rate=ALL,
                            export=ALL, view_lines=ALL, edit_lines=ALL, settings=NONE),
    "Manager": dict(view_conversations=OWN, view_history=OWN, view_statistics=OWN, act=OWN, rate=NONE,
                    export=ALL, view_lines=OWN, edit_lines=NONE, settings=NONE),
}


def install(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for name, levels in DEFAULT_ROLES.items():
        Role.objects.update_or_create(name=name, defaults=levels)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
