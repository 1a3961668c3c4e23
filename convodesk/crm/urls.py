from django.urls import path, re_path

from . import views, views_import, views_merge, views_pipeline

app_name = "crm"

SEGMENTS = "contacts|companies|leads|deals|activities"

urlpatterns = [
    path("", views.crm_home, name="home"),
    path("leads/<int:pk>/convert/", views.convert, name="convert"),
    path("conversations/<int:conversation_id>/rebind/", views.rebind, name="rebind"),
    path(
        "conversations/<int:conversation_id>/deal/",
        views_pipeline.deal_from_conversation,
        name="deal_from_conversation",
    ),
    path("matches/<int:pk>/confirm/", views.confirm_match, name="confirm_match"),
    path("imports/", views_import.imports_home, name="imports"),
    path("imports/<int:pk>/", views_import.import_detail, name="import"),
    path("imports/<int:pk>/report/", views_import.import_report, name="import_report"),
    path("contacts/duplicates/", views_merge.duplicates, name="duplicates"),
    path("contacts/merge/", views_merge.merge, name="merge"),
    path(
        "companies/duplicates/",
        views_merge.duplicates,
        {"kind": "company"},
        name="duplicates_companies",
    ),
    path("companies/merge/", views_merge.merge, {"kind": "company"}, name="merge_companies"),
    path("merges/<int:pk>/undo/", views_merge.undo_merge, name="undo_merge"),
    path("deals/board/", views_pipeline.board, name="board"),
    path("deals/statistics/", views_pipeline.statistics, name="statistics"),
    path("deals/<int:pk>/move/", views_pipeline.move, name="move"),
    re_path(rf"^(?P<segment>{SEGMENTS})/$", views.record_list, name="list"),
    re_path(rf"^(?P<segment>{SEGMENTS})/new/$", views.new_record, name="new"),
    re_path(rf"^(?P<segment>{SEGMENTS})/columns/$", views.save_columns, name="columns"),
    re_path(rf"^(?P<segment>{SEGMENTS})/export/$", views.export_list, name="export"),
    re_path(rf"^(?P<segment>{SEGMENTS})/presets/$", views.save_preset, name="preset_save"),
    re_path(
        rf"^(?P<segment>{SEGMENTS})/presets/(?P<pk>[0-9]{{1,18}})/delete/$",
        views.delete_preset,
        name="preset_delete",
    ),
    re_path(rf"^(?P<segment>{SEGMENTS})/(?P<pk>[0-9]{{1,18}})/$", views.card, name="card"),
    re_path(
        rf"^(?P<segment>{SEGMENTS})/(?P<pk>[0-9]{{1,18}})/delete/$",
        views.delete_record,
        name="delete",
    ),
]
