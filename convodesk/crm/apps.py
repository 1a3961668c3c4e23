from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _repair_search_index(sender, using="default", **kwargs):
    """A later migration that rebuilt a CRM table on SQLite dropped its search triggers."""
    from django.db import connections

    from .search_index import ensure

    ensure(connections[using])


class CrmConfig(AppConfig):
    name = "convodesk.crm"
    label = "crm"

    def ready(self):
        post_migrate.connect(_repair_search_index, sender=self)
