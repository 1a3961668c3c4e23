from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "convodesk.ops"
    label = "ops"
    verbose_name = "Operations"
