from django.contrib import admin

from .models import Connection, Line, LineMember


class LineMemberInline(admin.TabularInline):
    model = LineMember
    extra = 0
    autocomplete_fields = ["user"]


class ConnectionInline(admin.TabularInline):
    model = Connection
    extra = 0
    fields = ["kind", "name", "active", "public_key"]
    readonly_fields = ["public_key"]


@admin.register(Line)
class LineAdmin(admin.ModelAdmin):
    list_display = ["name", "distribution", "queue_timeout_seconds", "auto_close_minutes", "active"]
    inlines = [LineMemberInline, ConnectionInline]
    search_fields = ["name"]


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "line", "active"]
    list_filter = ["kind", "line", "active"]
    readonly_fields = ["public_key"]
    exclude = ["secret_encrypted", "secret_hash"]
