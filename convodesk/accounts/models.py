"""Employees, departments (a tree) and roles holding a level per permission."""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Level(models.IntegerChoices):
    NONE = 0, _("None")
    OWN = 10, _("Own")
    DEPARTMENT = 20, _("Department")
    ALL = 30, _("All")


# Permissions whose levels are yes/no use NONE and ALL ("allowed").
PERMISSIONS = {
    "view_conversations": (
        _("View conversations"),
        (Level.NONE, Level.OWN, Level.DEPARTMENT, Level.ALL),
    ),
    "view_history": (_("View history"), (Level.NONE, Level.OWN, Level.DEPARTMENT, Level.ALL)),
    "view_statistics": (_("View statistics"), (Level.NONE, Level.OWN, Level.DEPARTMENT, Level.ALL)),
    "act": (_("Act on conversations"), (Level.OWN, Level.DEPARTMENT, Level.ALL)),
    "rate": (_("Rate conversations"), (Level.NONE, Level.DEPARTMENT, Level.ALL)),
    "export": (_("Export"), (Level.NONE, Level.ALL)),
    "view_lines": (_("View open channels"), (Level.NONE, Level.OWN, Level.ALL)),
    "edit_lines": (_("Edit open channels"), (Level.NONE, Level.OWN, Level.ALL)),
    "settings": (_("Settings"), (Level.NONE, Level.ALL)),
    # Everyone sees the CRM records of the conversations they see and those they are responsible
    # for (own); the level widens that to their departments' employees' records or to all.
    "view_crm": (_("View CRM records"), (Level.OWN, Level.DEPARTMENT, Level.ALL)),
    "edit_crm": (_("Edit CRM records"), (Level.NONE, Level.OWN, Level.DEPARTMENT, Level.ALL)),
}


class Department(models.Model):
    name = models.CharField(_("name"), max_length=200)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        verbose_name=_("parent department"),
    )

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["name"]

    def __str__(self):
        return self.name


def _level_field(permission):
    label, levels = PERMISSIONS[permission]
    return models.PositiveSmallIntegerField(
        label, choices=[(lv.value, lv.label) for lv in levels], default=levels[0].value
    )


class Role(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    view_conversations = _level_field("view_conversations")
    view_history = _level_field("view_history")
    view_statistics = _level_field("view_statistics")
    act = _level_field("act")
    rate = _level_field("rate")
    export = _level_field("export")
    view_lines = _level_field("view_lines")
    edit_lines = _level_field("edit_lines")
    settings = _level_field("settings")
    view_crm = _level_field("view_crm")
    edit_crm = _level_field("edit_crm")

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        ordering = ["name"]

    def __str__(self):
        return self.name

    def levels(self) -> dict[str, int]:
        return {p: getattr(self, p) for p in PERMISSIONS}


class DepartmentRole(models.Model):
    """A role given to every employee of a department (and optionally of its sub-departments)."""

    # Indexed as the first column of `department_role_unique`.
    department = models.ForeignKey(
        Department, on_delete=models.CASCADE, related_name="role_grants", db_index=False
    )
    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="department_grants")
    include_subdepartments = models.BooleanField(_("include sub-departments"), default=True)

    class Meta:
        verbose_name = _("department role")
        verbose_name_plural = _("department roles")
        constraints = [
            models.UniqueConstraint(fields=["department", "role"], name="department_role_unique")
        ]

    def __str__(self):
        return f"{self.role} → {self.department}"


class User(AbstractUser):
    class Availability(models.TextChoices):
        ONLINE = "online", _("Online")
        AWAY = "away", _("Away")

    display_name = models.CharField(_("display name"), max_length=200, blank=True)
    departments = models.ManyToManyField(
        Department, blank=True, related_name="employees", verbose_name=_("departments")
    )
    roles = models.ManyToManyField(Role, blank=True, related_name="users", verbose_name=_("roles"))
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC")
    language = models.CharField(
        _("language"), max_length=8, blank=True, choices=[("en", "English"), ("es", "Español")]
    )
    availability = models.CharField(
        _("availability"), max_length=10, choices=Availability.choices, default=Availability.ONLINE
    )
    is_integration = models.BooleanField(
        _("integration"),
        default=False,
        help_text=_(
            "An integration account acts through API tokens only; what it writes is not an employee's."
        ),
    )
    column_preferences = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("employee")
        verbose_name_plural = _("employees")

    def __str__(self):
        return self.name

    @property
    def name(self) -> str:
        return self.display_name or self.get_full_name() or self.username
