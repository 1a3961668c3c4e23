from django.contrib import admin

from .models import QuickReply


@admin.register(QuickReply)
class QuickReplyAdmin(admin.ModelAdmin):
    list_display = ("title", "line", "position")
    list_filter = ("line",)
    search_fields = ("title", "text")
