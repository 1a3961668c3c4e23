from django.urls import path

from . import views, views_bulk, views_export
from .views.files import message_attachment

app_name = "conversations"

urlpatterns = [
    path("conversations/", views.conversation_list, name="list"),
    path("conversations/columns/", views.save_columns, name="columns"),
    path("conversations/rows/", views.live_rows, name="live_rows"),
    path("conversations/presets/", views.create_preset, name="preset_create"),
    path("conversations/presets/<int:pk>/", views.change_preset, name="preset_change"),
    path("conversations/<int:pk>/history/", views.conversation_history, name="history"),
    path(
        "conversations/<int:pk>/attachments/<int:message_id>/<int:index>/",
        message_attachment,
        name="attachment",
    ),
    path("conversations/<int:pk>/end/", views.end_conversation, name="end"),
    path("conversations/<int:pk>/spam/", views.spam_conversation, name="spam"),
    path("conversations/<int:pk>/rate/", views.rate_conversation, name="rate"),
    path("conversations/<int:pk>/menu/", views.row_menu, name="row_menu"),
    path("conversations/<int:pk>/start/", views.start_conversation, name="start"),
    path("conversations/export/", views_export.export_conversations, name="export"),
    path("conversations/exports/", views_export.export_jobs, name="export_jobs"),
    path("conversations/exports/notice/", views_export.export_notice, name="export_notice"),
    path("conversations/exports/<uuid:job_id>/", views_export.export_job, name="export_job"),
    path(
        "conversations/exports/<uuid:job_id>/download/",
        views_export.export_download,
        name="export_download",
    ),
    path("conversations/bulk/", views_bulk.bulk_action, name="bulk"),
    path("conversations/bulk/targets/", views_bulk.bulk_targets, name="bulk_targets"),
    path("conversations/bulk/labels/", views_bulk.bulk_labels, name="bulk_labels"),
    path("conversations/bulk/<uuid:job_id>/", views_bulk.bulk_job, name="bulk_job"),
]
