"""An employee's level for a permission: the highest of their roles and their departments' roles."""

from django.db.models import Q

from .models import PERMISSIONS, Department, DepartmentRole, Level, Role

_CACHE_ATTR = "_convodesk_levels"


def department_ancestors(department_ids: set[int]) -> dict[int, set[int]]:
    """Map each department id to itself and all of its ancestors."""
    parents = dict(Department.objects.values_list("id", "parent_id"))
    result = {}
    for dep in department_ids:
        chain, cur = set(), dep
        while cur is not None and cur not in chain:
            chain.add(cur)
            cur = parents.get(cur)
        result[dep] = chain
    return result


def department_subtree(department_ids) -> set[int]:
    """The given departments and every department below them."""
    children: dict[int | None, list[int]] = {}
    for dep_id, parent_id in Department.objects.values_list("id", "parent_id"):
        children.setdefault(parent_id, []).append(dep_id)
    seen, stack = set(), list(department_ids)
    while stack:
        dep = stack.pop()
        if dep in seen:
            continue
        seen.add(dep)
        stack.extend(children.get(dep, ()))
    return seen


def levels_for(user) -> dict[str, int]:
    if not user or not user.is_authenticated or not user.is_active:
        return {p: Level.NONE for p in PERMISSIONS}
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is not None:
        return cached
    if user.is_superuser:
        levels = {p: Level.ALL for p in PERMISSIONS}
    else:
        own_deps = set(user.departments.values_list("id", flat=True))
        ancestry = department_ancestors(own_deps)
        direct = set().union(*ancestry.values()) if ancestry else set()
        grant_q = Q(users=user) | Q(department_grants__department_id__in=own_deps)
        grant_q |= Q(
            department_grants__department_id__in=direct - own_deps,
            department_grants__include_subdepartments=True,
        )
        levels = {p: PERMISSIONS[p][1][0].value for p in PERMISSIONS}
        for role in Role.objects.filter(grant_q).distinct():
            for perm, value in role.levels().items():
                levels[perm] = max(levels[perm], value)
    setattr(user, _CACHE_ATTR, levels)
    return levels


def level(user, permission: str) -> int:
    return levels_for(user)[permission]


def forget_levels(user) -> None:
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


__all__ = ["DepartmentRole", "department_subtree", "level", "levels_for", "forget_levels"]
