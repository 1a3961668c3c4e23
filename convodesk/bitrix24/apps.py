from django.apps import AppConfig


class Bitrix24Config(AppConfig):
    name = "convodesk.bitrix24"
    label = "bitrix24"
    verbose_name = "Bitrix24 compatibility"

    def ready(self):
        from convodesk.connectors import delivery
        from convodesk.conversations import hooks

        from . import events

        # A closed conversation's OnOpenLineSessionFinish, after the service's commit.
        if events.sessions_finished not in hooks.SUBSCRIBERS:
            hooks.SUBSCRIBERS.append(events.sessions_finished)

        # A custom connector's line is an api connection: replies on it go out as the seed
        # product's OnImConnectorMessageAdd event; every other api connection keeps its signed
        # webhook (delivery.deliver_webhook).
        delivery.register("api", events.deliver_api_message, enabled=events.api_delivers)
