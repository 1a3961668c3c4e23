"""Factories: plain functions building the organisation and conversations through the services."""

import datetime as dt
import itertools

from django.utils import timezone

from convodesk.accounts.models import Department, DepartmentRole, Role, User
from convodesk.conversations import services
from convodesk.conversations.services import Actor
from convodesk.lines.models import Connection, Line, LineMember

_seq = itertools.count(1)
T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def at(seconds: float = 0, base: dt.datetime = T0) -> dt.datetime:
    return base + dt.timedelta(seconds=seconds)


def role(name: str) -> Role:
    # The default roles are there: tests/conftest.py puts them back at the start of each test,
    # after a transactional test's flush.
    return Role.objects.get(name=name)


def department(name: str | None = None, parent: Department | None = None) -> Department:
    return Department.objects.create(name=name or f"Department {next(_seq)}", parent=parent)


def employee(
    username: str | None = None, *, departments=(), roles=None, superuser=False, **extra
) -> User:
    username = username or f"agent{next(_seq)}"
    user = User.objects.create_user(
        username=username,
        password="pass12345",
        display_name=extra.pop("display_name", username.title()),
        is_superuser=superuser,
        is_staff=superuser,
        **extra,
    )
    if departments:
        user.departments.set(departments)
    if roles is not None:
        user.roles.set([role(r) if isinstance(r, str) else r for r in roles])
    return user


def integration(name: str = "crm-sync", role_name: str = "Chief executive") -> User:
    user = User.objects.create_user(
        username=f"integration-{name}-{next(_seq)}", is_integration=True
    )
    user.roles.set([role(role_name)])
    return user


def grant_department_role(dep: Department, role_name: str, include_subdepartments=True) -> None:
    DepartmentRole.objects.create(
        department=dep, role=role(role_name), include_subdepartments=include_subdepartments
    )


def line(name: str | None = None, members=(), **settings) -> Line:
    obj = Line.objects.create(name=name or f"Line {next(_seq)}", **settings)
    for position, user in enumerate(members):
        LineMember.objects.create(line=obj, user=user, position=position)
    return obj


def connection(line_obj: Line, kind: str = "api", **extra) -> Connection:
    return Connection.objects.create(
        line=line_obj, kind=kind, name=extra.pop("name", f"{kind} {next(_seq)}"), **extra
    )


def client_message(
    conn: Connection, client: str = "client-1", text: str = "Hello", when=None, **kw
):
    return services.receive_client_message(
        conn,
        client_external_id=client,
        client_name=kw.pop("name", client.title()),
        text=text,
        now=when or timezone.now(),
        **kw,
    )


def act(user: User) -> Actor:
    return Actor.of(user)
