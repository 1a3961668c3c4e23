from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _repair_search_indexes(sender, using="default", **kwargs):
    """A later migration that rebuilt an indexed table on SQLite dropped its search triggers
    (convodesk/search_index.py)."""
    from django.db import connections

    from convodesk.search_index import ensure

    ensure(connections[using])


class ConversationsConfig(AppConfig):
    name = "convodesk.conversations"
    label = "conversations"
    verbose_name = _("Conversations")

    def ready(self):
        post_migrate.connect(_repair_search_indexes, sender=self)
