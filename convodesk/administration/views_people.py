"""People: employees, departments (a tree, with their supervisors) and roles (a matrix editor).

Every write goes through `convodesk.accounts.services`, the same functions the REST API calls,
which validate, write and record the change in the audit log in one transaction.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from convodesk import timezones
from convodesk.accounts import invitations
from convodesk.accounts import services as people
from convodesk.accounts.models import PERMISSIONS, Department, Role, User
from convodesk.conversations import lifecycle
from convodesk.conversations.models import Conversation
from convodesk.conversations.normalize import clean_text

from .access import settings_required
from .forms_people import (
    DepartmentForm,
    EmployeeForm,
    RoleForm,
    add_service_errors,
    role_initial,
)

PAGE_SIZE = 50


def _render(request, template, context, section, status=200):
    context["section"] = f"administration:{section}"
    return render(request, f"administration/people/{template}", context, status=status)


# Employees -----------------------------------------------------------------------------


@require_GET
@settings_required
def employees(request):
    """Searchable by name, username and e-mail; paged on the username's unique index, so a page
    costs the same few queries at 10,000 employees as at ten."""
    q = clean_text(request.GET.get("q", ""), 100)
    rows = User.objects.filter(is_integration=False)
    if q:
        rows = rows.filter(
            Q(username__icontains=q)
            | Q(display_name__icontains=q)
            | Q(first_name__icontains=q)
            | Q(last_name__icontains=q)
            | Q(email__icontains=q)
        )
    rows = rows.order_by("username").prefetch_related("departments", "roles")
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "q": q}
    template = "employees_rows.html" if request.htmx else "employees.html"
    return _render(request, template, context, "employees")


def _employee_form_context(form, employee=None):
    return {
        "form": form,
        "employee": employee,
        "time_zones": sorted(timezones.names()),
        "system_mail": invitations.mail_configured(),
    }


@require_http_methods(["GET", "POST"])
@settings_required
def employee_create(request):
    form = EmployeeForm(request.POST or None, initial={"time_zone": "UTC"})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = people.create_employee(
                request.user,
                username=data["username"],
                display_name=data["display_name"],
                email=data["email"],
                password=data["password"] or None,
                departments=data["departments"],
                roles=data["roles"],
                time_zone=data["time_zone"].strip(),
                language=data["language"],
            )
        except people.Invalid as exc:
            add_service_errors(form, exc.errors)
        else:
            messages.success(request, _("%(name)s was added.") % {"name": user.name})
            if data.get("invite"):
                return _invite(request, user)
            return redirect("administration:employee", pk=user.pk)
    status = 400 if form.errors else 200
    return _render(request, "employee_form.html", _employee_form_context(form), "employees", status)


def _invite(request, employee):
    """Send the invitation, or show its link once when this installation sends no mail."""
    base = settings.CONVODESK.get("PUBLIC_URL") or request.build_absolute_uri("/")
    try:
        url = invitations.invite(request.user, employee, base)
    except invitations.CannotInvite as exc:
        for message in exc.errors.values():
            messages.error(request, message)
        return redirect("administration:employee", pk=employee.pk)
    if url is None:
        messages.success(
            request, _("The invitation was sent to %(email)s.") % {"email": employee.email}
        )
        return redirect("administration:employee", pk=employee.pk)
    context = {"employee": employee, "url": url}
    return _render(request, "employee_invitation.html", context, "employees")


@require_POST
@settings_required
def employee_invite(request, pk):
    return _invite(request, _employee(pk))


def _employee(pk) -> User:
    return get_object_or_404(User, pk=pk, is_integration=False)


@require_http_methods(["GET", "POST"])
@settings_required
def employee_edit(request, pk):
    employee = _employee(pk)
    initial = {
        "display_name": employee.display_name,
        "email": employee.email,
        "departments": list(employee.departments.values_list("pk", flat=True)),
        "roles": list(employee.roles.values_list("pk", flat=True)),
        "language": employee.language,
        "time_zone": employee.time_zone,
    }
    form = EmployeeForm(request.POST or None, initial=initial, editing=True)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        if not data["password"]:
            del data["password"]
        data["time_zone"] = data["time_zone"].strip()
        try:
            people.update_employee(request.user, employee, **data)
        except people.Invalid as exc:
            add_service_errors(form, exc.errors)
        else:
            messages.success(request, _("Changes to %(name)s saved.") % {"name": employee.name})
            return redirect("administration:employee", pk=employee.pk)
    status = 400 if form.errors else 200
    return _render(
        request, "employee_form.html", _employee_form_context(form, employee), "employees", status
    )


@require_http_methods(["GET", "POST"])
@settings_required
def employee_deactivate(request, pk):
    """A confirm page saying what deactivating does; the POST does it."""
    employee = _employee(pk)
    if employee.pk == request.user.pk:
        messages.error(request, _("You cannot deactivate yourself."))
        return redirect("administration:employee", pk=employee.pk)
    if request.method == "POST":
        try:
            ended = people.deactivate_employee(request.user, employee)
        except people.Invalid as exc:
            for message in exc.errors.values():
                messages.error(request, message)
            return redirect("administration:employee", pk=employee.pk)
        messages.success(
            request,
            _(
                "%(name)s is deactivated: %(sessions)s sessions ended, %(tokens)s API tokens "
                "revoked, open windows disconnected."
            )
            % {"name": employee.name, "sessions": ended["sessions"], "tokens": ended["tokens"]},
        )
        return redirect("administration:employee", pk=employee.pk)
    context = {
        "employee": employee,
        "sessions": employee.login_sessions.count(),
        "tokens": employee.api_tokens.filter(revoked_at__isnull=True).count(),
        "holding": Conversation.objects.filter(
            responsible=employee, status__lt=lifecycle.OPEN_BELOW
        ).count(),
    }
    return _render(request, "employee_deactivate.html", context, "employees")


@require_POST
@settings_required
def employee_reactivate(request, pk):
    employee = _employee(pk)
    people.reactivate_employee(request.user, employee)
    messages.success(
        request,
        _("%(name)s can log in again. Their old sessions and API tokens stay ended.")
        % {"name": employee.name},
    )
    return redirect("administration:employee", pk=employee.pk)


# Departments ---------------------------------------------------------------------------


@require_GET
@settings_required
def departments(request):
    tree = people.department_tree()
    counts = dict(
        Department.objects.annotate(
            n=Count("employees", filter=Q(employees__is_active=True))
        ).values_list("pk", "n")
    )
    heads = people.supervisors([dep.pk for dep, _depth in tree])
    rows = [
        {"dep": dep, "depth": depth, "members": counts.get(dep.pk, 0), "supervisors": heads[dep.pk]}
        for dep, depth in tree
    ]
    return _render(request, "departments.html", {"rows": rows}, "departments")


@require_http_methods(["GET", "POST"])
@settings_required
def department_form(request, pk=None):
    dep = get_object_or_404(Department, pk=pk) if pk is not None else None
    initial = {"name": dep.name, "parent": dep.parent_id} if dep else {}
    form = DepartmentForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if dep is None:
                dep = people.create_department(
                    request.user, name=data["name"], parent=data["parent"]
                )
            else:
                people.update_department(
                    request.user, dep, name=data["name"], parent=data["parent"]
                )
        except people.Invalid as exc:
            add_service_errors(form, exc.errors)
        else:
            messages.success(request, _("Department %(name)s saved.") % {"name": data["name"]})
            return redirect("administration:departments")
    context = {"form": form, "dep": dep}
    if dep is not None:
        context["supervisors"] = people.supervisors([dep.pk])[dep.pk]
        context["members"] = dep.employees.filter(is_active=True).order_by(
            "display_name", "username"
        )[:200]
    status = 400 if form.errors else 200
    return _render(request, "department_form.html", context, "departments", status)


# Roles ---------------------------------------------------------------------------------


@require_GET
@settings_required
def roles(request):
    rows = (
        Role.objects.annotate(n=Count("users", filter=Q(users__is_active=True)))
        .prefetch_related("department_grants__department")
        .order_by("name")
    )
    return _render(
        request,
        "roles.html",
        {"roles": rows, "permissions": [(p, label) for p, (label, _lv) in PERMISSIONS.items()]},
        "roles",
    )


@require_http_methods(["GET", "POST"])
@settings_required
def role_form(request, pk=None):
    role = get_object_or_404(Role, pk=pk) if pk is not None else None
    form = RoleForm(request.POST or None, initial=role_initial(role))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if role is None:
                role = people.create_role(
                    request.user,
                    name=data["name"],
                    levels=form.levels(),
                    departments=data["departments"],
                )
            else:
                people.update_role(
                    request.user,
                    role,
                    name=data["name"],
                    levels=form.levels(),
                    departments=data["departments"],
                )
        except people.Invalid as exc:
            add_service_errors(form, exc.errors)
        else:
            messages.success(request, _("Role %(name)s saved.") % {"name": data["name"]})
            return redirect("administration:role", pk=role.pk)
    status = 400 if form.errors else 200
    return _render(request, "role_form.html", {"form": form, "role": role}, "roles", status)
