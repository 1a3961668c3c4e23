from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import Department, DepartmentRole, Role, User


class DepartmentRoleInline(admin.TabularInline):
    model = DepartmentRole
    extra = 0


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["name", "parent"]
    search_fields = ["name"]
    inlines = [DepartmentRoleInline]


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "view_conversations",
        "view_history",
        "act",
        "rate",
        "export",
        "settings",
        "view_crm",
        "edit_crm",
    ]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = [
        "username",
        "display_name",
        "email",
        "availability",
        "is_integration",
        "is_active",
    ]
    list_filter = ["is_active", "is_integration", "availability", "departments", "roles"]
    fieldsets = BaseUserAdmin.fieldsets + (
        (
            _("Contact center"),
            {
                "fields": (
                    "display_name",
                    "departments",
                    "roles",
                    "time_zone",
                    "language",
                    "availability",
                    "is_integration",
                )
            },
        ),
    )
    filter_horizontal = ["departments", "roles", "groups", "user_permissions"]
