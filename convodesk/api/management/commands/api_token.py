"""Create or revoke API tokens.

manage.py api_token create <username> [--name NAME]
manage.py api_token create --integration <name> --role <role> [--name NAME]
manage.py api_token revoke <token or its first characters> | --id <id>
manage.py api_token list [<username>]
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from convodesk.accounts.models import Role, User
from convodesk.api.models import ApiToken


class Command(BaseCommand):
    help = "Create (printed once), list or revoke API tokens of employees and integrations."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create a token and print it once")
        create.add_argument("username", nargs="?", help="The employee the token acts as")
        create.add_argument(
            "--integration", help="Create (or reuse) an integration account with this name"
        )
        create.add_argument("--role", help="The integration's role (name), e.g. 'Chief executive'")
        create.add_argument("--name", default="", help="A label for the token")
        revoke = sub.add_parser("revoke", help="Revoke a token")
        revoke.add_argument(
            "token", nargs="?", help="The token itself, or the characters it starts with"
        )
        revoke.add_argument("--id", type=int, help="The token's id")
        listing = sub.add_parser("list", help="List tokens")
        listing.add_argument("username", nargs="?")

    def handle(self, *args, **opts):
        return getattr(self, f"_{opts['action']}")(opts)

    def _create(self, opts):
        if bool(opts["username"]) == bool(opts["integration"]):
            raise CommandError("Give either a username or --integration <name>.")
        if opts["integration"]:
            user = self._integration(opts["integration"], opts["role"])
        else:
            if opts["role"]:
                raise CommandError(
                    "--role applies to integrations; an employee's token uses their roles."
                )
            user = User.objects.filter(username=opts["username"]).first()
            if user is None:
                raise CommandError(f"No employee with the username {opts['username']!r}.")
            if not user.is_active:
                raise CommandError(f"{user.username} is not active.")
        _token, plain = ApiToken.issue(
            user, opts["name"] or ("integration" if user.is_integration else "cli")
        )
        self.stderr.write(f"Token for {user.username} (shown only this once):")
        self.stdout.write(plain)

    @transaction.atomic
    def _integration(self, name: str, role_name: str | None) -> User:
        username = f"integration-{name}"
        role = None
        if role_name:
            role = Role.objects.filter(name=role_name).first()
            if role is None:
                names = ", ".join(Role.objects.values_list("name", flat=True))
                raise CommandError(f"No role {role_name!r}. Roles: {names}.")
        user = User.objects.filter(username=username).first()
        if user is None:
            if role is None:
                raise CommandError("A new integration needs --role <role>.")
            user = User(username=username, display_name=name, is_integration=True)
            user.set_unusable_password()
            user.save()
        elif not user.is_integration:
            raise CommandError(f"{username} exists and is an employee, not an integration.")
        if role is not None:
            user.roles.set([role])
        return user

    def _revoke(self, opts):
        from convodesk import crypto

        rows = ApiToken.objects.filter(revoked_at__isnull=True)
        if opts["id"]:
            rows = rows.filter(pk=opts["id"])
        elif opts["token"]:
            value = opts["token"].rstrip("…").rstrip(".")
            exact = rows.filter(token_hash=crypto.hash_token(value))
            rows = (
                exact
                if exact.exists()
                else rows.filter(prefix=value[:10])
                if len(value) >= 10
                else rows.none()
            )
        else:
            raise CommandError("Give the token, its first characters, or --id.")
        found = list(rows)
        if not found:
            raise CommandError("No such active token.")
        if len(found) > 1:
            raise CommandError("Several tokens start like that; use --id.")
        found[0].revoke()
        self.stdout.write(f"Revoked token {found[0].pk} of {found[0].user.username}.")

    def _list(self, opts):
        rows = ApiToken.objects.select_related("user").order_by("id")
        if opts["username"]:
            rows = rows.filter(user__username=opts["username"])
        for t in rows:
            state = "active" if t.is_active else "revoked"
            self.stdout.write(f"{t.pk}\t{t.user.username}\t{t.prefix}…\t{t.name}\t{state}")
