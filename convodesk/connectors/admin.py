from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import SkippedMessage


@admin.register(SkippedMessage)
class SkippedMessageAdmin(admin.ModelAdmin):
    """Messages a channel passed over because they could not be stored (read-only)."""

    list_display = ("created_at", "connection", "external_id", "short_reason")
    list_filter = ("connection",)
    search_fields = ("external_id", "reason")
    date_hierarchy = "created_at"
    readonly_fields = ("connection", "external_id", "reason", "payload", "created_at")

    @admin.display(description=_("reason"))
    def short_reason(self, obj):
        return obj.reason[:120]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
