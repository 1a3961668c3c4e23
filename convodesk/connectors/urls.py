from django.urls import path

from . import files, telegram_views

app_name = "connectors"

urlpatterns = [
    path("telegram/<int:connection_id>/webhook/", telegram_views.webhook, name="telegram_webhook"),
    path("files/<str:token>/", files.download, name="file"),
]
