from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "convodesk.crm"
    label = "crm"
