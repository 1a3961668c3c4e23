"""`compilemessages` for Convodesk: Django's command, skipping virtualenvs and non-source trees.

Django's own command has no default ignores, so it would recompile every catalogue inside
`.venv` and the benchmark virtualenvs under `benchmarks/peers/`.
"""

from django.core.management.commands import compilemessages

PROJECT_IGNORES = [".venv", ".venv*", "benchmarks", "var", "node_modules"]


class Command(compilemessages.Command):
    def handle(self, **options):
        options["ignore_patterns"] = [*options.get("ignore_patterns", []), *PROJECT_IGNORES]
        return super().handle(**options)
