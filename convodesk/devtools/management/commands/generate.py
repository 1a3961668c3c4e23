"""`manage.py generate --conversations N`: bulk benchmark data (see devtools/generate.py)."""

import time

from django.core.management.base import BaseCommand, CommandError

from convodesk.devtools import generate


class Command(BaseCommand):
    requires_system_checks = []  # a data loader: the URLconf and templates do not matter here

    help = (
        "Bulk-generate conversations with messages for benchmarks, in resumable chunks: a rerun counts "
        "the generated conversations that exist and continues up to --conversations."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--conversations", type=int, required=True, help="Total generated conversations wanted."
        )
        parser.add_argument(
            "--messages-for",
            type=int,
            default=None,
            metavar="LATEST",
            help="Write message rows only for the latest LATEST conversations (default: all).",
        )
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument(
            "--chunk", type=int, default=50000, help="Conversations per transaction."
        )
        parser.add_argument(
            "--no-events", action="store_true", help="Skip the two event rows per conversation."
        )
        parser.add_argument(
            "--no-rollups",
            action="store_true",
            help="Leave the statistics rollups unbuilt (for tests that never read statistics; "
            "`manage.py rebuild_rollups` builds them later).",
        )

    def handle(
        self, *args, conversations, messages_for, seed, chunk, no_events, no_rollups, **options
    ):
        if conversations < 0 or chunk < 1:
            raise CommandError("--conversations must be >= 0 and --chunk >= 1.")
        started = time.monotonic()
        try:
            progress = generate.generate(
                conversations,
                messages_for=messages_for,
                seed=seed,
                chunk=chunk,
                events=not no_events,
                log=self.stdout.write,
                rollups=not no_rollups,
            )
        except generate.NotEnoughDisk as exc:
            self.stdout.write(self.style.WARNING(str(exc)))
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"{progress.done:,} generated conversations in place "
                f"({progress.messages:,} messages written in this run, {time.monotonic() - started:.0f} s)."
            )
        )
