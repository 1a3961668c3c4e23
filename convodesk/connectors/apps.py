from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "convodesk.connectors"
    label = "connectors"
