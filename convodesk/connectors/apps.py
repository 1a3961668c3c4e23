from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "convodesk.connectors"
    label = "connectors"

    def ready(self):
        from . import delivery, telegram

        delivery.register("telegram", telegram.deliver)
