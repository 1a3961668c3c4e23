from django.apps import AppConfig


class StatsConfig(AppConfig):
    name = "convodesk.stats"
    label = "stats"
