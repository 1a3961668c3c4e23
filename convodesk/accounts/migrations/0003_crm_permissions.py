"""CRM permissions on roles (issue 15): view_crm own/department/all, edit_crm none/own/department/all.

Until now every employee read and edited every CRM record. Existing roles get levels that follow
what they already allow on conversations, so nobody gains a right and editing is never wider
than acting on conversations: the default roles take their documented levels, administrators
(the settings permission) all, and any other role views CRM records as widely as it views
conversations (at least its own) and edits them as widely as it acts (never beyond viewing).
"""

from django.db import migrations, models

NONE, OWN, DEPARTMENT, ALL = 0, 10, 20, 30

# The levels of accounts/defaults.py as of this migration (kept here so it never changes).
DEFAULT_CRM = {
    "Administrator": (ALL, ALL),
    "Chief executive": (ALL, ALL),
    "Manager": (OWN, OWN),
}


def crm_levels(role) -> tuple[int, int]:
    if role.name in DEFAULT_CRM:
        return DEFAULT_CRM[role.name]
    if role.settings >= ALL:
        return ALL, ALL
    view = max(OWN, role.view_conversations)
    return view, min(role.act, view)


def set_levels(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.all():
        role.view_crm, role.edit_crm = crm_levels(role)
        role.save(update_fields=["view_crm", "edit_crm"])


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_default_roles")]

    operations = [
        migrations.AddField(
            model_name="role",
            name="view_crm",
            field=models.PositiveSmallIntegerField(
                choices=[(10, "Own"), (20, "Department"), (30, "All")],
                default=10,
                verbose_name="View CRM records",
            ),
        ),
        migrations.AddField(
            model_name="role",
            name="edit_crm",
            field=models.PositiveSmallIntegerField(
                choices=[(0, "None"), (10, "Own"), (20, "Department"), (30, "All")],
                default=0,
                verbose_name="Edit CRM records",
            ),
        ),
        migrations.RunPython(set_levels, migrations.RunPython.noop),
    ]
