"""accounts 0003 gives the roles that exist before it CRM levels no wider than their
conversation rights: the default roles their documented levels, administrators all, any other
role view as wide as it views conversations (at least own) and edit as wide as it acts."""

from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("accounts", "0002_default_roles")]
AFTER = [("accounts", "0003_crm_permissions")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_existing_roles_get_crm_levels_that_follow_their_conversation_rights(transactional_db):
    try:
        old = _migrate(BEFORE).get_model("accounts", "Role")
        old.objects.create(name="Auditor", view_conversations=30, act=10)
        old.objects.create(name="Team lead", view_conversations=20, act=20)
        old.objects.create(name="Queue only", view_conversations=0, act=10)
        old.objects.create(name="Site admins", settings=30)
        old.objects.filter(name="Manager").update(view_conversations=30, act=30)  # edited
        role = _migrate(AFTER).get_model("accounts", "Role")
        levels = {r.name: (r.view_crm, r.edit_crm) for r in role.objects.all()}
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    assert levels == {
        "Administrator": (30, 30),
        "Chief executive": (30, 30),
        "Manager": (10, 10),  # the default role keeps its documented levels
        "Auditor": (30, 10),  # reads everything, acts on its own
        "Team lead": (20, 20),
        "Queue only": (10, 10),
        "Site admins": (30, 30),
    }
