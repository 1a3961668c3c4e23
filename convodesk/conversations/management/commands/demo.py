import time

from django.core.management.base import BaseCommand, CommandError

from convodesk.accounts.models import User
from convodesk.conversations import demo


class Command(BaseCommand):
    help = "Load the demo organisation and two months of conversations (made by the real services)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing when employees already exist."
        )
        parser.add_argument("--conversations", type=int, default=2100)
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args, if_empty=False, conversations=2100, seed=7, **options):
        if User.objects.exists():
            if if_empty:
                self.stdout.write("Demo data: already loaded.")
                self.print_logins()
                return
            raise CommandError(
                "The database already has employees; the demo loads into an empty database only."
            )
        if conversations < 100:
            raise CommandError("--conversations must be at least 100.")
        started = time.monotonic()
        self.stdout.write(f"Loading the demo organisation and {conversations} conversations…")
        demo.load(
            conversations=conversations,
            seed=seed,
            progress=lambda i, n: self.stdout.write(f"  {i}/{n}", ending="\r"),
        )
        self.stdout.write(
            self.style.SUCCESS(f"Demo data loaded in {time.monotonic() - started:.1f} s.")
        )
        self.print_logins()

    def print_logins(self):
        self.stdout.write(f"\nDemo logins (password for all: {demo.DEMO_PASSWORD}):")
        for username, what in demo.LOGINS:
            self.stdout.write(f"  {username:8} {what}")
