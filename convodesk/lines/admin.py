from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from convodesk.connectors import setup
from convodesk.connectors.forms import ConnectionForm

from .models import Connection, Line, LineMember


class LineMemberInline(admin.TabularInline):
    model = LineMember
    extra = 0
    autocomplete_fields = ["user"]


@admin.display(description=_("public key"))
def saved_public_key(obj):
    """The key of the saved row only: a new row's default would be replaced by another when the
    form is posted, so a key shown before saving is not the one the widget answers for."""
    return obj.public_key if obj is not None and obj.pk else _("made when saved")


class ConnectionInline(admin.TabularInline):
    model = Connection
    extra = 0
    fields = ["kind", "name", "active", "key"]
    readonly_fields = ["key"]

    @admin.display(description=_("public key"))
    def key(self, obj):
        return saved_public_key(obj)


@admin.register(Line)
class LineAdmin(admin.ModelAdmin):
    list_display = ["name", "distribution", "queue_timeout_seconds", "auto_close_minutes", "active"]
    inlines = [LineMemberInline, ConnectionInline]
    search_fields = ["name"]


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    form = ConnectionForm
    list_display = ["name", "kind", "line", "active", "bot_name"]
    list_filter = ["kind", "line", "active"]
    readonly_fields = ["key"]

    @admin.display(description=_("public key"))
    def key(self, obj):
        return saved_public_key(obj)

    @admin.display(description=_("Telegram bot"))
    def bot_name(self, obj):
        bot = (obj.config or {}).get("bot") or {}
        return f"@{bot['username']}" if bot.get("username") else "–"

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if obj.kind == Connection.Kind.TELEGRAM and obj.active:
            try:
                setup.register(obj)
            except setup.ConnectionInvalid as exc:
                messages.error(
                    request, _("Saved, but: %(error)s") % {"error": " ".join(exc.errors.values())}
                )
            else:
                bot = obj.config.get("bot") or {}
                messages.success(
                    request, _("Connected to the bot @%(name)s.") % {"name": bot.get("username")}
                )
