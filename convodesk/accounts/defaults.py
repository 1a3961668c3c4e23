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
    ),
}


def install_default_roles(role_model) -> None:
    """Create the default roles that are missing (an administrator's later edits are kept)."""
    for name, levels in DEFAULT_ROLES.items():
        role_model.objects.get_or_create(name=name, defaults=levels)
