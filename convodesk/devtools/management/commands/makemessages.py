"""`makemessages` for Convodesk: Django's command plus the project's gettext aliases and ignores.

Some modules import gettext under short aliases (`gettext as _g`, `gettext_lazy as _l`) that
xgettext does not know, so their strings never reached the catalogue. They are added here as
keywords. The ignores below are the project's non-source trees, so that
`manage.py makemessages -l es` alone produces the same catalogue as the documented command line.
"""

from django.core.management.commands import makemessages

ALIASES = ["--keyword=_l", "--keyword=_g", "--keyword=_lazy"]
PROJECT_IGNORES = ["var/*", "benchmarks/*", "tests/*", "*/migrations/*", "screenshots/*"]


class Command(makemessages.Command):
    xgettext_options = [*makemessages.Command.xgettext_options, *ALIASES]

    def handle(self, *args, **options):
        options["ignore_patterns"] = [*options.get("ignore_patterns", []), *PROJECT_IGNORES]
        return super().handle(*args, **options)
