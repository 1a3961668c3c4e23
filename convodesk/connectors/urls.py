from django.urls import path

from . import telegram_views

app_name = "connectors"

urlpatterns = [
    path("telegram/<int:connection_id>/webhook/", telegram_views.webhook, name="telegram_webhook"),
]
