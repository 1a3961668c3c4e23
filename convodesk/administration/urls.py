from django.urls import path

from . import (
    views,
    views_bitrix24,
    views_connections,
    views_labels,
    views_lines,
    views_people,
    views_pipelines,
    views_replies,
)

app_name = "administration"

urlpatterns = [
    path("", views.index, name="index"),
    path("audit/", views.audit_log, name="audit"),
    # Open channels (issue 16 item 1)
    path("lines/", views_lines.line_list, name="lines"),
    path("lines/new/", views_lines.line_create, name="line_create"),
    path("lines/members/search/", views_lines.member_search, name="line_member_search"),
    path("lines/<int:pk>/", views_lines.line_edit, name="line_edit"),
    path("lines/<int:pk>/deactivate/", views_lines.line_deactivate, name="line_deactivate"),
    path("lines/<int:pk>/activate/", views_lines.line_activate, name="line_activate"),
    # Connections (issue 16 item 2)
    path("connections/", views_connections.connection_list, name="connections"),
    path("connections/new/", views_connections.connection_new, name="connection_new"),
    path(
        "connections/new/<str:kind>/",
        views_connections.connection_create,
        name="connection_create",
    ),
    path("connections/<int:pk>/", views_connections.connection_detail, name="connection"),
    path(
        "connections/<int:pk>/rotate-secret/",
        views_connections.connection_rotate,
        name="connection_rotate",
    ),
    path(
        "connections/<int:pk>/deliveries/<int:message_id>/retry/",
        views_connections.connection_retry,
        name="connection_retry",
    ),
    path(
        "connections/bot-pictures/<str:digest>/",
        views_connections.bot_picture,
        name="bot_picture",
    ),
    # Bitrix24 compatibility (issue 21): webhook codes and outbound event handlers
    path("bitrix24/", views_bitrix24.overview, name="bitrix24"),
    path("bitrix24/codes/new/", views_bitrix24.code_create, name="bitrix24_code_create"),
    path(
        "bitrix24/codes/<int:pk>/revoke/", views_bitrix24.code_revoke, name="bitrix24_code_revoke"
    ),
    path("bitrix24/handlers/new/", views_bitrix24.handler_create, name="bitrix24_handler_create"),
    path("bitrix24/handlers/<int:pk>/", views_bitrix24.handler_edit, name="bitrix24_handler"),
    path(
        "bitrix24/handlers/<int:pk>/rotate/",
        views_bitrix24.handler_rotate,
        name="bitrix24_handler_rotate",
    ),
    path(
        "bitrix24/handlers/<int:pk>/delete/",
        views_bitrix24.handler_delete,
        name="bitrix24_handler_delete",
    ),
    # People (employees, departments, roles), quick replies and API tokens
    path("employees/", views_people.employees, name="employees"),
    path("employees/new/", views_people.employee_create, name="employee_create"),
    path("employees/<int:pk>/", views_people.employee_edit, name="employee"),
    path(
        "employees/<int:pk>/deactivate/",
        views_people.employee_deactivate,
        name="employee_deactivate",
    ),
    path(
        "employees/<int:pk>/reactivate/",
        views_people.employee_reactivate,
        name="employee_reactivate",
    ),
    path(
        "employees/<int:pk>/invite/",
        views_people.employee_invite,
        name="employee_invite",
    ),
    path("departments/", views_people.departments, name="departments"),
    path("departments/new/", views_people.department_form, name="department_create"),
    path("departments/<int:pk>/", views_people.department_form, name="department"),
    path("roles/", views_people.roles, name="roles"),
    path("roles/new/", views_people.role_form, name="role_create"),
    path("roles/<int:pk>/", views_people.role_form, name="role"),
    path("quick-replies/", views_replies.quick_replies, name="quick_replies"),
    path("quick-replies/new/", views_replies.quick_reply_form, name="quick_reply_create"),
    path("quick-replies/<int:pk>/", views_replies.quick_reply_form, name="quick_reply"),
    path(
        "quick-replies/<int:pk>/delete/",
        views_replies.quick_reply_delete,
        name="quick_reply_delete",
    ),
    # Tags (issue 19 item 3); close reasons are edited on their open channel's screen
    path("tags/", views_labels.tag_list, name="tags"),
    path("tags/new/", views_labels.tag_form, name="tag_create"),
    path("tags/<int:pk>/", views_labels.tag_form, name="tag"),
    path("api-tokens/", views_replies.api_tokens, name="api_tokens"),
    path("api-tokens/new/", views_replies.api_token_create, name="api_token_create"),
    path("api-tokens/<int:pk>/revoke/", views_replies.api_token_revoke, name="api_token_revoke"),
    # Deal pipelines (issue 20 item 5)
    path("pipelines/", views_pipelines.pipeline_list, name="pipelines"),
    path("pipelines/<int:pk>/", views_pipelines.pipeline_edit, name="pipeline"),
    path("pipelines/<int:pk>/delete/", views_pipelines.pipeline_delete, name="pipeline_delete"),
]
