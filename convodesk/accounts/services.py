"""The one writer of employees, departments and roles (issue 16, item 5).

The settings screens and the REST API (`convodesk/api/provisioning.py`) both call these
functions, so the checks (password validators, IANA time zones, no department inside itself,
levels a permission allows), the write and its audit entry happen in one place and in one
transaction. A refusal is `Invalid`, whose `errors` map each field to why; nothing is written.
A password is never recorded in the audit log, not even masked.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from convodesk import timezones
from convodesk.audit import log as audit
from convodesk.conversations.normalize import clean_text
from convodesk.fielderrors import FieldErrors

from . import deactivation
from .access import department_subtree
from .models import PERMISSIONS, Department, DepartmentRole, Level, Role, User

EMPLOYEE_FIELDS = (
    "username",
    "display_name",
    "email",
    "is_active",
    "is_integration",
    "time_zone",
    "language",
)
UNSET = object()


class Invalid(FieldErrors):
    """The input is refused; `errors` maps each field ("time_zone", "levels.act") to why."""


def _ids(values) -> list[int]:
    return [v.pk if hasattr(v, "pk") else v for v in values]


def _existing(model, values, field: str, errors: dict, **extra) -> list[int]:
    ids = list(dict.fromkeys(_ids(values)))
    valid = [i for i in ids if isinstance(i, int) and 0 < i < 2**62]
    found = set(model.objects.filter(pk__in=valid, **extra).values_list("pk", flat=True))
    missing = [str(i) for i in ids if i not in found]
    if missing:
        errors[field] = _("Unknown ids: %(ids)s.") % {"ids": ", ".join(missing)}
    return [i for i in ids if i in found]


# The last settings administrator ------------------------------------------------------------


def settings_administrators():
    """Active employees (not integrations) who can open the settings: superusers, and everyone
    whose own roles or whose departments' roles give *Settings* (the rule of `access.levels_for`:
    a department's role reaches its sub-departments when it includes them)."""
    admin_roles = Role.objects.filter(settings=Level.ALL)
    departments: set[int] = set()
    grants = DepartmentRole.objects.filter(role__in=admin_roles)
    for department_id, downwards in grants.values_list("department_id", "include_subdepartments"):
        departments |= department_subtree([department_id]) if downwards else {department_id}
    reach = Q(is_superuser=True) | Q(roles__in=admin_roles) | Q(departments__in=departments)
    return User.objects.filter(reach, is_active=True, is_integration=False).distinct()


@contextmanager
def _keeping_a_settings_administrator(field: str):
    """Around a change's writes, inside its transaction: refuse (and so roll back) a change that
    leaves nobody able to open the settings where somebody could before; the installation could
    then only be repaired from a shell. (An installation that has none yet is not blocked.)"""
    had = settings_administrators().exists()
    yield
    if had and not settings_administrators().exists():
        raise Invalid(
            {
                field: _(
                    "At least one active employee must keep access to the settings; "
                    "give another employee the Settings permission first."
                )
            }
        )


# Departments ---------------------------------------------------------------------------


def _department_state(dep: Department) -> dict:
    return audit.snapshot(dep, fields={"name", "parent"})


def _check_department(dep: Department | None, name, parent_id, errors: dict) -> None:
    if name is not UNSET and not (name or "").strip():
        errors["name"] = _("A name is required.")
    elif name is not UNSET and len(name) > 200:
        errors["name"] = _("At most 200 characters.")
    if parent_id is UNSET or parent_id is None:
        return
    if not (
        isinstance(parent_id, int)
        and 0 < parent_id < 2**62
        and Department.objects.filter(pk=parent_id).exists()
    ):
        errors["parent"] = _("Unknown department.")
    elif dep is not None and dep.pk is not None and parent_id in department_subtree([dep.pk]):
        errors["parent"] = _("A department cannot be inside itself or one of its sub-departments.")


def create_department(actor, *, name: str, parent: Department | int | None = None) -> Department:
    parent_id = parent.pk if isinstance(parent, Department) else parent
    errors: dict[str, str] = {}
    _check_department(None, name, parent_id, errors)
    if errors:
        raise Invalid(errors)
    with transaction.atomic():
        dep = Department.objects.create(name=clean_text(name), parent_id=parent_id)
        audit.record(actor, "create", dep, after=_department_state(dep))
    return dep


def update_department(actor, dep: Department, *, name=UNSET, parent=UNSET) -> Department:
    parent_id = parent.pk if isinstance(parent, Department) else parent
    errors: dict[str, str] = {}
    _check_department(dep, name, parent_id, errors)
    if errors:
        raise Invalid(errors)
    with transaction.atomic():
        dep = Department.objects.select_for_update().get(pk=dep.pk)
        before = _department_state(dep)
        if name is not UNSET:
            dep.name = clean_text(name)
        if parent_id is not UNSET:
            # Checked again under the lock: two moves at once must not make a loop.
            if parent_id is not None and parent_id in department_subtree([dep.pk]):
                raise Invalid(
                    {
                        "parent": _(
                            "A department cannot be inside itself or one of its sub-departments."
                        )
                    }
                )
            dep.parent_id = parent_id
        with _keeping_a_settings_administrator("parent"):
            dep.save()
        after = _department_state(dep)
        if after != before:
            audit.record(actor, "update", dep, before=before, after=after)
    return dep


def department_tree() -> list[tuple[Department, int]]:
    """Every department with its depth, parents before their children, siblings by name."""
    children: dict[int | None, list[Department]] = {}
    for dep in Department.objects.order_by("name", "id"):
        children.setdefault(dep.parent_id, []).append(dep)
    out, seen = [], set()

    def walk(parent_id, depth):
        for dep in children.get(parent_id, ()):
            if dep.pk in seen:
                continue
            seen.add(dep.pk)
            out.append((dep, depth))
            walk(dep.pk, depth + 1)

    walk(None, 0)
    return out


def supervisors(department_ids: Iterable[int]) -> dict[int, list[User]]:
    """Per department: the active employees of it who see its conversations at department level
    or above (a role of theirs, or of a department they belong to, gives view_conversations ≥
    department). These are the department's supervisors; no separate field names them."""
    from .access import levels_for

    department_ids = list(department_ids)
    result: dict[int, list[User]] = {d: [] for d in department_ids}
    members = (
        User.objects.filter(is_active=True, is_integration=False, departments__in=department_ids)
        .distinct()
        .prefetch_related("departments")
        .order_by("display_name", "username")
    )
    for user in members:
        if levels_for(user)["view_conversations"] >= 20:
            for dep in user.departments.all():
                if dep.pk in result:
                    result[dep.pk].append(user)
    return result


# Roles ---------------------------------------------------------------------------------


def _role_state(role: Role) -> dict:
    state = audit.snapshot(role, fields={"name", *PERMISSIONS})
    if role.pk:
        state["departments"] = sorted(
            DepartmentRole.objects.filter(role=role).values_list("department_id", flat=True)
        )
    return state


def check_levels(levels: dict) -> dict[str, str]:
    errors = {}
    for permission, value in (levels or {}).items():
        if permission not in PERMISSIONS:
            errors[f"levels.{permission}"] = _("Unknown permission.")
            continue
        allowed = [int(lv) for lv in PERMISSIONS[permission][1]]
        if value not in allowed:
            errors[f"levels.{permission}"] = _("%(permission)s allows only: %(levels)s.") % {
                "permission": PERMISSIONS[permission][0],
                "levels": ", ".join(str(lv.label) for lv in PERMISSIONS[permission][1]),
            }
    return errors


def _check_role(role: Role | None, name, levels, errors: dict) -> None:
    if name is not UNSET:
        name = (name or "").strip()
        if not name:
            errors["name"] = _("A name is required.")
        elif len(name) > 100:
            errors["name"] = _("At most 100 characters.")
        elif Role.objects.filter(name=name).exclude(pk=getattr(role, "pk", None)).exists():
            errors["name"] = _("A role with this name exists.")
    if levels is not UNSET:
        errors.update(check_levels(levels))


def _set_role_departments(role: Role, department_ids: list[int]) -> None:
    DepartmentRole.objects.filter(role=role).exclude(department_id__in=department_ids).delete()
    have = set(DepartmentRole.objects.filter(role=role).values_list("department_id", flat=True))
    DepartmentRole.objects.bulk_create(
        [DepartmentRole(role=role, department_id=d) for d in department_ids if d not in have]
    )


def create_role(actor, *, name: str, levels: dict | None = None, departments=()) -> Role:
    errors: dict[str, str] = {}
    _check_role(None, name, levels or {}, errors)
    department_ids = _existing(Department, departments, "departments", errors)
    if errors:
        raise Invalid(errors)
    with transaction.atomic():
        role = Role(name=clean_text(name))
        for permission, value in (levels or {}).items():
            setattr(role, permission, value)
        role.save()
        _set_role_departments(role, department_ids)
        audit.record(actor, "create", role, after=_role_state(role))
    return role


def update_role(actor, role: Role, *, name=UNSET, levels=UNSET, departments=UNSET) -> Role:
    errors: dict[str, str] = {}
    _check_role(role, name, levels if levels is not None else UNSET, errors)
    department_ids = (
        _existing(Department, departments, "departments", errors)
        if departments is not UNSET
        else None
    )
    if errors:
        raise Invalid(errors)
    with transaction.atomic():
        role = Role.objects.select_for_update().get(pk=role.pk)
        before = _role_state(role)
        if name is not UNSET:
            role.name = clean_text(name)
        if levels not in (UNSET, None):
            for permission, value in levels.items():
                setattr(role, permission, value)
        with _keeping_a_settings_administrator("levels.settings"):
            role.save()
            if department_ids is not None:
                _set_role_departments(role, department_ids)
        after = _role_state(role)
        if after != before:
            audit.record(actor, "update", role, before=before, after=after)
    return role


# Employees -----------------------------------------------------------------------------


def _employee_state(user: User) -> dict:
    """What the audit log keeps of an employee: never the password, not even masked."""
    state = audit.snapshot(user, fields=set(EMPLOYEE_FIELDS))
    if user.pk:
        state["departments"] = sorted(user.departments.values_list("pk", flat=True))
        state["roles"] = sorted(user.roles.values_list("pk", flat=True))
    return state


def _role_ids(values, errors: dict) -> list[int]:
    ids, missing = [], []
    for value in values:
        if isinstance(value, Role):
            ids.append(value.pk)
            continue
        role = None
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**62:
            role = Role.objects.filter(pk=value).first()
        elif isinstance(value, str):
            role = Role.objects.filter(name=value).first()
        if role is None:
            missing.append(str(value))
        else:
            ids.append(role.pk)
    if missing:
        errors["roles"] = _("Unknown roles: %(roles)s.") % {"roles": ", ".join(missing)}
    return list(dict.fromkeys(ids))


def _check_employee(user: User, data: dict, errors: dict) -> None:
    if data.get("email"):
        try:
            validate_email(data["email"])
        except ValidationError:
            errors["email"] = _("Enter a valid e-mail address.")
    if "time_zone" in data and not timezones.is_valid(data["time_zone"]):
        errors["time_zone"] = _("Unknown time zone. Choose an IANA name such as Europe/Madrid.")
    if "language" in data and data["language"] not in ("", *dict(settings.LANGUAGES)):
        errors["language"] = _("Unknown language.")
    if data.get("password") and user.is_integration:
        errors["password"] = _(
            "An integration account acts through API tokens only and cannot have a password."
        )
    elif data.get("password"):
        # The validators compare the password with the employee's (new) name and e-mail.
        probe = User(
            username=user.username,
            email=data.get("email", user.email),
            display_name=data.get("display_name", user.display_name),
        )
        try:
            validate_password(data["password"], probe)
        except ValidationError as exc:
            errors["password"] = " ".join(exc.messages)


def create_employee(
    actor,
    *,
    username: str,
    display_name: str = "",
    email: str = "",
    password: str | None = None,
    departments=(),
    roles=None,
    is_active: bool = True,
    time_zone: str = "UTC",
    language: str = "",
    is_integration: bool = False,
) -> User:
    """A new employee. Without a password they cannot log in until one is set. `roles=None`
    gives the default role (Manager); a list gives exactly those."""
    errors: dict[str, str] = {}
    username = (username or "").strip()
    if not username:
        errors["username"] = _("A username is required.")
    elif len(username) > 150:
        errors["username"] = _("At most 150 characters.")
    else:
        try:
            UnicodeUsernameValidator()(username)
        except ValidationError:
            errors["username"] = _("Letters, digits and @/./+/-/_ only.")
        else:
            if User.objects.filter(username=username).exists():
                errors["username"] = _("This username is taken.")
    data = {
        "email": email,
        "time_zone": time_zone,
        "language": language,
        "display_name": display_name,
        "password": password,
    }
    _check_employee(User(username=username, is_integration=is_integration), data, errors)
    department_ids = _existing(Department, departments, "departments", errors)
    role_ids = _role_ids(roles, errors) if roles is not None else None
    if errors:
        raise Invalid(errors)
    with transaction.atomic():
        user = User(
            username=username,
            display_name=clean_text(display_name),
            email=email.strip(),
            is_active=is_active,
            time_zone=time_zone,
            language=language,
            is_integration=is_integration,
        )
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
        user.departments.set(department_ids)
        if role_ids is not None:
            user.roles.set(role_ids)
        audit.record(actor, "create", user, after=_employee_state(user))
    return user


EDITABLE = {"display_name", "email", "password", "departments", "roles", "time_zone", "language"}


def _may_change(actor, user: User) -> None:
    """A role with the settings permission manages employees, but not a superuser: otherwise
    a settings administrator could take over the installation by resetting its password."""
    if user.is_superuser and not getattr(actor, "is_superuser", False):
        raise PermissionDenied(_("Only a superuser may change a superuser."))


def _not_yourself(actor, user: User) -> None:
    if getattr(actor, "pk", None) == user.pk:
        raise Invalid({"active": _("You cannot deactivate yourself.")})


def update_employee(actor, user: User, **changes) -> User:
    """Change the given fields (see EDITABLE, plus `is_active`); the others stay as they are.
    `is_active=False` ends the employee's access as `deactivate_employee` does."""
    _may_change(actor, user)
    if changes.get("is_active") is False:
        _not_yourself(actor, user)
    unknown = set(changes) - EDITABLE - {"is_active"}
    if unknown:
        raise TypeError(f"unknown employee fields: {sorted(unknown)}")
    errors: dict[str, str] = {}
    _check_employee(user, changes, errors)
    department_ids = (
        _existing(Department, changes["departments"], "departments", errors)
        if changes.get("departments") is not None
        else None
    )
    role_ids = _role_ids(changes["roles"], errors) if changes.get("roles") is not None else None
    if errors:
        raise Invalid(errors)
    deactivating = changes.get("is_active") is False and user.is_active
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        before = _employee_state(user)
        for field in ("display_name", "email", "time_zone", "language"):
            if changes.get(field) is not None:
                setattr(user, field, clean_text(changes[field]))
        if changes.get("password"):
            user.set_password(changes["password"])
        if changes.get("is_active") is not None:
            user.is_active = changes["is_active"]
        with _keeping_a_settings_administrator("active" if deactivating else "roles"):
            user.save()  # an inactive save ends access (accounts/signals.py)
            if department_ids is not None:
                user.departments.set(department_ids)
            if role_ids is not None:
                user.roles.set(role_ids)
        after = _employee_state(user)
        if changes.get("password"):
            # A new password is recorded as a fact, never the password itself (not even masked).
            before["log_in"], after["log_in"] = "", "changed"
        if after != before:
            action = "deactivate" if deactivating else "update"
            audit.record(actor, action, user, before=before, after=after)
    return user


def deactivate_employee(actor, user: User) -> dict[str, int]:
    """Switch the employee off: every log-in session is ended, every open socket of theirs
    closed and every API token revoked (`deactivation.end_access`). Returns what was ended."""
    _may_change(actor, user)
    _not_yourself(actor, user)
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        before = _employee_state(user)
        # An update, not save(): the post_save signal would end access a second time.
        with _keeping_a_settings_administrator("active"):
            User.objects.filter(pk=user.pk).update(is_active=False)
        user.is_active = False
        ended = deactivation.end_access(user)
        if before["is_active"]:
            audit.record(actor, "deactivate", user, before=before, after=_employee_state(user))
    return ended


def reactivate_employee(actor, user: User) -> User:
    """Let the employee log in again. Their old sessions and tokens stay ended."""
    return update_employee(actor, user, is_active=True)
