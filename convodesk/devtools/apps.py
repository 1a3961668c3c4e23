from django.apps import AppConfig


class DevtoolsConfig(AppConfig):
    """No models: installed for its management commands (`demo`, `generate`, `makemessages`,
    `compilemessages`)."""

    name = "convodesk.devtools"
    label = "devtools"
    verbose_name = "Development tools"
