import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from convodesk.accounts.models import User
from convodesk.conversations.models import Conversation
from convodesk.devtools import demo

PENDING = "demo-conversations-pending"


class Command(BaseCommand):
    help = (
        "Load the demo organisation (made by the services) and two months of conversations "
        "(the history in bulk, today's through the services)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing when employees already exist."
        )
        parser.add_argument("--conversations", type=int, default=2100)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument(
            "--organisation-only",
            action="store_true",
            help="Only the organisation; `manage.py serve` then loads the conversations in the background.",
        )
        parser.add_argument(
            "--conversations-only",
            action="store_true",
            help="Only the conversations, into the demo organisation loaded before with --organisation-only.",
        )

    def handle(
        self,
        *args,
        if_empty=False,
        conversations=2100,
        seed=7,
        organisation_only=False,
        conversations_only=False,
        **options,
    ):
        if conversations < 100:
            raise CommandError("--conversations must be at least 100.")
        pending = settings.VAR_DIR / PENDING
        if conversations_only:
            return self.conversations(pending, conversations, seed)
        if User.objects.exists():
            if if_empty:
                self.stdout.write("Demo data: already loaded.")
                self.print_logins()
                return
            raise CommandError(
                "The database already has employees; the demo loads into an empty database only."
            )
        started = time.monotonic()
        if organisation_only:
            demo.load_organisation(seed)
            pending.write_text(str(conversations))
            self.stdout.write(
                self.style.SUCCESS(
                    f"Demo organisation loaded in {time.monotonic() - started:.1f} s; "
                    f"{conversations} conversations follow in the background."
                )
            )
        else:
            self.stdout.write(f"Loading the demo organisation and {conversations} conversations…")
            timings = {}
            demo.load(
                conversations=conversations, seed=seed, progress=self.progress, timings=timings
            )
            self.stdout.write(
                self.style.SUCCESS(
                    f"Demo data loaded in {time.monotonic() - started:.1f} s ({self.steps(timings)})."
                )
            )
        self.print_logins()

    def conversations(self, pending, conversations, seed):
        if not User.objects.filter(username="maria").exists():
            raise CommandError(
                "Load the demo organisation first (manage.py demo --organisation-only)."
            )
        if Conversation.objects.exists():
            pending.unlink(missing_ok=True)
            self.stdout.write("Demo conversations: already loaded.")
            return
        pending.unlink(missing_ok=True)  # once: an interrupted load is not started again
        started = time.monotonic()
        timings = {}
        demo.simulate(
            demo.organisation_from_db(),
            conversations=conversations,
            seed=seed,
            progress=self.progress,
            pause=0.15,
            timings=timings,
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo conversations loaded in {time.monotonic() - started:.1f} s "
                f"({conversations}; {self.steps(timings)})."
            )
        )

    def steps(self, timings):
        return ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items())

    def progress(self, done, total):
        self.stdout.write(f"  demo: {done}/{total} conversations")

    def print_logins(self):
        self.stdout.write(f"\nDemo logins (password for all: {demo.DEMO_PASSWORD}):")
        for username, what in demo.LOGINS:
            self.stdout.write(f"  {username:8} {what}")
