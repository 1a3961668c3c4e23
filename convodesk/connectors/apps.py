from django.apps import AppConfig


def _smtp_configured(connection) -> bool:
    return bool(((connection.config or {}).get("smtp") or {}).get("host"))


class ConnectorsConfig(AppConfig):
    name = "convodesk.connectors"
    label = "connectors"

    def ready(self):
        from . import delivery, mail, telegram

        delivery.register("telegram", telegram.deliver)
        delivery.register("email", mail.deliver, enabled=_smtp_configured)
