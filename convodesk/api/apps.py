from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "convodesk.api"
    label = "api"
