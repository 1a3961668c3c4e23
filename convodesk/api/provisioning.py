"""Provisioning for administrators: departments, employees, roles, open channels and their connections."""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from typing import Literal

from ninja import Field, Router, Schema
from pydantic import StrictBool

from convodesk.accounts import services as people
from convodesk.accounts.models import Department, Role, User
from convodesk.connectors import setup as connection_setup
from convodesk.lines import services as line_services
from convodesk.lines.models import Connection, Line

from .auth import require_admin
from .errors import Status, invalid, not_found
from .schemas import Input

router = Router(tags=["provisioning"])

Name = Field(..., min_length=1, max_length=200)


def _admin(request) -> User:
    require_admin(request.auth)
    return request.auth


def _get(model, pk):
    obj = model.objects.filter(pk=pk).first() if 0 < pk < 2**62 else None
    if obj is None:
        raise not_found()
    return obj


@contextmanager
def _service_errors():
    """A refusal of the people services (accounts/services.py) is a 422 naming the fields."""
    try:
        yield
    except people.Invalid as exc:
        raise invalid(exc.errors) from None


# Departments ---------------------------------------------------------------------------


class DepartmentIn(Input):
    name: str = Name
    parent: int | None = None


class DepartmentPatch(Input):
    name: str | None = Field(None, min_length=1, max_length=200)
    parent: int | None = None


class DepartmentOut(Schema):
    id: int
    name: str
    parent: int | None


def _department_out(dep: Department) -> dict:
    return {"id": dep.pk, "name": dep.name, "parent": dep.parent_id}


@router.get("/departments", response=list[DepartmentOut], summary="List departments")
def list_departments(request):
    _admin(request)
    return [_department_out(d) for d in Department.objects.order_by("id")]


@router.post("/departments", response={201: DepartmentOut}, summary="Create a department")
def create_department(request, payload: DepartmentIn):
    admin = _admin(request)
    with _service_errors():
        dep = people.create_department(admin, name=payload.name, parent=payload.parent)
    return Status(201, _department_out(dep))


@router.get("/departments/{department_id}", response=DepartmentOut, summary="Get a department")
def get_department(request, department_id: int):
    _admin(request)
    return _department_out(_get(Department, department_id))


@router.patch("/departments/{department_id}", response=DepartmentOut, summary="Change a department")
def patch_department(request, department_id: int, payload: DepartmentPatch):
    admin = _admin(request)
    dep = _get(Department, department_id)
    data = payload.dict(exclude_unset=True)
    with _service_errors():
        dep = people.update_department(
            admin,
            dep,
            name=(data["name"] or "") if "name" in data else people.UNSET,
            parent=data.get("parent", people.UNSET),
        )
    return _department_out(dep)


# Roles ---------------------------------------------------------------------------------


class RoleIn(Input):
    name: str = Field(..., min_length=1, max_length=100)
    levels: dict[str, int] = Field(
        default_factory=dict, description="Level per permission: 0, 10, 20 or 30"
    )


class RolePatch(Input):
    name: str | None = Field(None, min_length=1, max_length=100)
    levels: dict[str, int] | None = None


class RoleOut(Schema):
    id: int
    name: str
    levels: dict[str, int]


def _role_out(role: Role) -> dict:
    return {
        "id": role.pk,
        "name": role.name,
        "levels": {k: int(v) for k, v in role.levels().items()},
    }


@router.get("/roles", response=list[RoleOut], summary="List roles")
def list_roles(request):
    _admin(request)
    return [_role_out(r) for r in Role.objects.order_by("id")]


@router.post("/roles", response={201: RoleOut}, summary="Create a role")
def create_role(request, payload: RoleIn):
    admin = _admin(request)
    with _service_errors():
        role = people.create_role(admin, name=payload.name, levels=payload.levels)
    return Status(201, _role_out(role))


@router.get("/roles/{role_id}", response=RoleOut, summary="Get a role")
def get_role(request, role_id: int):
    _admin(request)
    return _role_out(_get(Role, role_id))


@router.patch("/roles/{role_id}", response=RoleOut, summary="Change a role")
def patch_role(request, role_id: int, payload: RolePatch):
    admin = _admin(request)
    role = _get(Role, role_id)
    data = payload.dict(exclude_unset=True)
    with _service_errors():
        role = people.update_role(
            admin,
            role,
            name=data["name"] if data.get("name") else people.UNSET,
            levels=data["levels"] if data.get("levels") else people.UNSET,
        )
    return _role_out(role)


# Employees -----------------------------------------------------------------------------


class EmployeeIn(Input):
    username: str = Field(..., min_length=1, max_length=150)
    name: str = Field("", max_length=200)
    email: str = Field("", max_length=254)
    password: str | None = Field(
        None, max_length=128, description="Optional; without it the employee cannot log in"
    )
    departments: list[int] = Field(default_factory=list)
    roles: list[int | str] | None = Field(None, description="Role ids or names; default: Manager")
    active: StrictBool = True
    time_zone: str | None = None


class EmployeePatch(Input):
    name: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=254)
    password: str | None = Field(None, max_length=128)
    departments: list[int] | None = None
    roles: list[int | str] | None = None
    active: StrictBool | None = None
    time_zone: str | None = None


class EmployeeOut(Schema):
    id: int
    username: str
    name: str
    email: str
    departments: list[int]
    roles: list[int]
    active: bool
    is_integration: bool
    availability: str
    time_zone: str


def _employee_out(user: User) -> dict:
    return {
        "id": user.pk,
        "username": user.username,
        "name": user.name,
        "email": user.email,
        "departments": sorted(user.departments.values_list("id", flat=True)),
        "roles": sorted(user.roles.values_list("id", flat=True)),
        "active": user.is_active,
        "is_integration": user.is_integration,
        "availability": user.availability,
        "time_zone": user.time_zone,
    }


@router.get("/employees", response=list[EmployeeOut], summary="List employees")
def list_employees(request):
    _admin(request)
    users = User.objects.order_by("id").prefetch_related("departments", "roles")
    return [_employee_out(u) for u in users]


@router.post("/employees", response={201: EmployeeOut}, summary="Create an employee")
def create_employee(request, payload: EmployeeIn):
    admin = _admin(request)
    with _service_errors():
        user = people.create_employee(
            admin,
            username=payload.username,
            display_name=payload.name,
            email=payload.email,
            password=payload.password,
            departments=payload.departments,
            roles=payload.roles,
            is_active=payload.active,
            time_zone=payload.time_zone or "UTC",
        )
    return Status(201, _employee_out(user))


@router.get("/employees/{employee_id}", response=EmployeeOut, summary="Get an employee")
def get_employee(request, employee_id: int):
    _admin(request)
    return _employee_out(_get(User, employee_id))


@router.patch("/employees/{employee_id}", response=EmployeeOut, summary="Change an employee")
def patch_employee(request, employee_id: int, payload: EmployeePatch):
    admin = _admin(request)
    user = _get(User, employee_id)
    data = {k: v for k, v in payload.dict(exclude_unset=True).items() if v is not None}
    if "name" in data:
        data["display_name"] = data.pop("name")
    active = data.pop("active", None)
    with _service_errors():
        if active is False and user.is_active:
            people.deactivate_employee(admin, user)
        elif active is True:
            data["is_active"] = True
        user = people.update_employee(admin, user, **data) if data else user
    user.refresh_from_db()
    return _employee_out(user)


# Open channels -------------------------------------------------------------------------

Distribution = Literal["all_at_once", "evenly", "strict"]
CrmBinding = Literal["lead", "contact", "nothing"]
Minutes = Field(None, ge=0, le=10**6)


HOURS_HELP = (
    'Per weekday ("0" = Monday … "6" = Sunday) a list of ["HH:MM", "HH:MM"] ranges, each start '
    "before its end, without overlaps; no ranges at all means always open."
)
HOLIDAYS_HELP = "Dates (YYYY-MM-DD) when the open channel is closed all day."
TZ_HELP = "An IANA time zone name, e.g. Europe/Madrid."
FIRST_TARGET_HELP = (
    "Reply-time target for the first answer, in seconds (null: none); counted in business "
    "hours when sla_first_business"
)
NEXT_TARGET_HELP = (
    "Reply-time target for each later reply, in seconds (null: none); counted in business "
    "hours when sla_next_business"
)
SLA_MAIL_HELP = "E-mail the open channel's supervisors when a target is missed"


class LineIn(Input):
    name: str = Name
    members: list[int] = Field(default_factory=list, description="Employee ids, in offering order")
    distribution: Distribution = "all_at_once"
    auto_close_minutes: int = Field(240, ge=0, le=10**6)
    queue_timeout_seconds: int = Field(60, ge=1, le=10**6)
    reopen_window_minutes: int = Field(0, ge=0, le=10**6)
    full_close_minutes: int = Field(10, ge=0, le=10**6)
    max_open_per_employee: int = Field(0, ge=0, le=10**6)
    closing_text: str = Field("", max_length=5000)
    ask_rating: StrictBool = False
    greeting_text: str = Field("", max_length=5000)
    out_of_hours_text: str = Field("", max_length=5000)
    crm_binding: CrmBinding = "lead"
    crm_bind_open_deal: StrictBool = False
    time_zone: str = Field("UTC", description=TZ_HELP)
    working_hours: dict = Field(default_factory=dict, description=HOURS_HELP)
    holidays: list = Field(default_factory=list, description=HOLIDAYS_HELP)
    sla_first_seconds: int | None = Field(None, ge=1, le=10**6, description=FIRST_TARGET_HELP)
    sla_first_business: StrictBool = True
    sla_next_seconds: int | None = Field(None, ge=1, le=10**6, description=NEXT_TARGET_HELP)
    sla_next_business: StrictBool = True
    sla_mail: StrictBool = Field(False, description=SLA_MAIL_HELP)
    active: StrictBool = True


class LinePatch(Input):
    name: str | None = Field(None, min_length=1, max_length=200)
    members: list[int] | None = None
    distribution: Distribution | None = None
    auto_close_minutes: int | None = Minutes
    queue_timeout_seconds: int | None = Field(None, ge=1, le=10**6)
    reopen_window_minutes: int | None = Minutes
    full_close_minutes: int | None = Minutes
    max_open_per_employee: int | None = Minutes
    closing_text: str | None = Field(None, max_length=5000)
    ask_rating: StrictBool | None = None
    greeting_text: str | None = Field(None, max_length=5000)
    out_of_hours_text: str | None = Field(None, max_length=5000)
    crm_binding: CrmBinding | None = None
    crm_bind_open_deal: StrictBool | None = None
    time_zone: str | None = Field(None, description=TZ_HELP)
    working_hours: dict | None = Field(None, description=HOURS_HELP)
    holidays: list | None = Field(None, description=HOLIDAYS_HELP)
    sla_first_seconds: int | None = Field(None, ge=1, le=10**6, description=FIRST_TARGET_HELP)
    sla_first_business: StrictBool | None = None
    sla_next_seconds: int | None = Field(None, ge=1, le=10**6, description=NEXT_TARGET_HELP)
    sla_next_business: StrictBool | None = None
    sla_mail: StrictBool | None = Field(None, description=SLA_MAIL_HELP)
    active: StrictBool | None = Field(
        None, description="false deactivates: no new conversations start on its connections"
    )


class LineOut(Schema):
    id: int
    name: str
    members: list[int]
    distribution: str
    auto_close_minutes: int
    queue_timeout_seconds: int
    reopen_window_minutes: int
    full_close_minutes: int
    max_open_per_employee: int
    closing_text: str
    ask_rating: bool
    greeting_text: str
    out_of_hours_text: str
    crm_binding: str
    crm_bind_open_deal: bool
    time_zone: str
    working_hours: dict
    holidays: list[str]
    sla_first_seconds: int | None
    sla_first_business: bool
    sla_next_seconds: int | None
    sla_next_business: bool
    sla_mail: bool
    active: bool


LINE_FIELDS = [name for name in LineOut.model_fields if name not in ("id", "members")]


def _line_out(line: Line) -> dict:
    out = {name: getattr(line, name) for name in LINE_FIELDS}
    out["id"] = line.pk
    out["members"] = line_services.member_ids(line)
    return out


@contextmanager
def _line_errors():
    """The open channels' service names each bad field: a 422 with the same words the screens show."""
    try:
        yield
    except line_services.LineInvalid as exc:
        raise invalid(exc.errors) from None


@router.get("/lines", response=list[LineOut], summary="List open channels")
def list_lines(request):
    _admin(request)
    return [_line_out(line) for line in Line.objects.order_by("id")]


@router.post("/lines", response={201: LineOut}, summary="Create an open channel")
def create_line(request, payload: LineIn):
    admin = _admin(request)
    with _line_errors():
        line = line_services.create_line(admin, **payload.dict())
    return Status(201, _line_out(line))


@router.get("/lines/{line_id}", response=LineOut, summary="Get an open channel")
def get_line(request, line_id: int):
    _admin(request)
    return _line_out(_get(Line, line_id))


@router.patch("/lines/{line_id}", response=LineOut, summary="Change an open channel")
def patch_line(request, line_id: int, payload: LinePatch):
    admin = _admin(request)
    line = _get(Line, line_id)
    # A reply-time target set to null removes it; other nulls mean "leave as is".
    data = {
        k: v
        for k, v in payload.dict(exclude_unset=True).items()
        if v is not None or k in line_services.TARGETS
    }
    with _line_errors():
        line = line_services.update_line(admin, line, **data)
    return _line_out(line)


# Connections ---------------------------------------------------------------------------


CONFIG_HELP = (
    'Per kind: "api" {"webhook_url"}; "telegram" {"bot_token", "mode": "webhook"|"polling"}; '
    '"email" {"address", "imap": {"host", "port", "security": "ssl"|"starttls"|"none", "user", '
    '"password", "folder"}, "smtp": {...same, no folder}}; "livechat" widget options. Secrets are '
    'stored encrypted and shown as "***"; a change is a JSON merge patch (null removes a key, '
    '"***" keeps the stored secret).'
)
ORIGINS_HELP = "Exact origins (scheme://host[:port]) whose pages may embed the web chat widget."


class ConnectionIn(Input):
    kind: Literal[tuple(Connection.Kind.values)]  # type: ignore[valid-type]
    name: str = Name
    config: dict = Field(default_factory=dict, description=CONFIG_HELP)
    allowed_origins: list[str] = Field(default_factory=list, description=ORIGINS_HELP)
    active: StrictBool = True


class ConnectionPatch(Input):
    name: str | None = Field(None, min_length=1, max_length=200)
    config: dict | None = Field(None, description=CONFIG_HELP)
    allowed_origins: list[str] | None = Field(None, description=ORIGINS_HELP)
    active: StrictBool | None = None


class ConnectionOut(Schema):
    id: int
    line: int
    kind: str
    name: str
    config: dict
    allowed_origins: list[str]
    public_key: str
    active: bool
    created_at: dt.datetime


class ConnectionCreated(ConnectionOut):
    secret: str = Field(
        ..., description="Shown this once; it signs webhooks and authenticates ingestion"
    )


def _connection_out(conn: Connection) -> dict:
    return {
        "id": conn.pk,
        "line": conn.line_id,
        "kind": conn.kind,
        "name": conn.name,
        "config": connection_setup.mask_secrets(conn.config or {}),
        "allowed_origins": [o for o in conn.allowed_origins or [] if isinstance(o, str)],
        "public_key": conn.public_key,
        "active": conn.active,
        "created_at": conn.created_at,
    }


def _line_connection(line_id: int, connection_id: int) -> Connection:
    line = _get(Line, line_id)
    conn = (
        Connection.objects.filter(line=line, pk=connection_id).first()
        if 0 < connection_id < 2**62
        else None
    )
    if conn is None:
        raise not_found()
    return conn


@router.get(
    "/lines/{line_id}/connections",
    response=list[ConnectionOut],
    summary="List an open channel's connections",
)
def list_connections(request, line_id: int):
    _admin(request)
    line = _get(Line, line_id)
    return [_connection_out(c) for c in line.connections.order_by("id")]


@router.post(
    "/lines/{line_id}/connections",
    response={201: ConnectionCreated},
    summary="Connect a channel; the response carries its secret, once",
)
def create_connection(request, line_id: int, payload: ConnectionIn):
    actor = _admin(request)
    line = _get(Line, line_id)
    try:
        conn, secret = connection_setup.create_connection(
            line,
            payload.kind,
            payload.name,
            payload.config,
            active=payload.active,
            allowed_origins=payload.allowed_origins,
            actor=actor,
        )
    except connection_setup.ConnectionInvalid as exc:
        raise invalid(exc.errors) from None
    return Status(201, {**_connection_out(conn), "secret": secret})


@router.get(
    "/lines/{line_id}/connections/{connection_id}",
    response=ConnectionOut,
    summary="Get a connection",
)
def get_connection(request, line_id: int, connection_id: int):
    _admin(request)
    return _connection_out(_line_connection(line_id, connection_id))


@router.patch(
    "/lines/{line_id}/connections/{connection_id}",
    response=ConnectionOut,
    summary="Change a connection",
)
def patch_connection(request, line_id: int, connection_id: int, payload: ConnectionPatch):
    actor = _admin(request)
    conn = _line_connection(line_id, connection_id)
    data = payload.dict(exclude_unset=True)
    try:
        connection_setup.update_connection(
            conn,
            name=data.get("name"),
            config=data.get("config"),
            active=data.get("active"),
            allowed_origins=data.get("allowed_origins"),
            actor=actor,
        )
    except connection_setup.ConnectionInvalid as exc:
        raise invalid(exc.errors) from None
    return _connection_out(conn)


@router.post(
    "/lines/{line_id}/connections/{connection_id}/rotate-secret",
    response=ConnectionCreated,
    summary="Replace a connection's secret; the new one is shown once",
)
def rotate_connection_secret(request, line_id: int, connection_id: int):
    actor = _admin(request)
    conn = _line_connection(line_id, connection_id)
    try:
        secret = connection_setup.rotate_secret(conn, actor=actor)
    except connection_setup.ConnectionInvalid as exc:
        raise invalid(exc.errors) from None
    return {**_connection_out(conn), "secret": secret}
