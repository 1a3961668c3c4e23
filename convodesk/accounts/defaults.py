"""The three default roles of SPEC "Access permissions"; installed by a migration."""

NONE, OWN, DEPARTMENT, ALL = 0, 10, 20, 30

DEFAULT_ROLES = {
    "Administrator": dict(
        view_conversations=ALL,
        view_history=ALL,
        view_statistics=ALL,
        act=ALL,
        rate=ALL,
        export=ALL,
        view_lines=ALL,
        edit_lines=ALL,
        settings=ALL,
        view_crm=ALL,
        edit_crm=ALL,
    ),
    "Chief executive": dict(
        view_conversations=ALL,
        view_history=ALL,
        view_statistics=ALL,
        act=ALL,
        rate=ALL,
        export=ALL,
        view_lines=ALL,
        edit_lines=ALL,
        settings=NONE,
        view_crm=ALL,
        edit_crm=ALL,
    ),
    "Manager": dict(
        view_conversations=OWN,
        view_history=OWN,
        view_statistics=OWN,
        act=OWN,
        rate=NONE,
        export=ALL,
        view_lines=OWN,
        edit_lines=NONE,
        settings=NONE,
        view_crm=OWN,
        edit_crm=OWN,
    ),
}


def install_default_roles(role_model) -> None:
    """Create the default roles that are missing (an administrator's later edits are kept).

    A migration passes the historical model, which lacks the permissions added after it."""
    fields = {f.name for f in role_model._meta.get_fields()}
    for name, levels in DEFAULT_ROLES.items():
        known = {k: v for k, v in levels.items() if k in fields}
        role_model.objects.get_or_create(name=name, defaults=known)
