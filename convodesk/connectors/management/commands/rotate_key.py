"""`manage.py rotate_key`: re-encrypt every stored secret under the current SECRET_KEY.

Stored secrets are connection secrets, bot tokens and mailbox passwords (convodesk/crypto.py,
MultiFernet). To change the key: start with the new key as SECRET_KEY and the old one in
SECRET_KEY_FALLBACKS, run this command, then drop the fallback. With the key kept in the
installation's key file (`make run`), `--new-key` does all of it: it writes a new random key to
that file and re-encrypts under it (stop the server first; start it again afterwards).
"""

from __future__ import annotations

import os
import secrets

from cryptography.fernet import InvalidToken
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.translation import gettext as _

from convodesk import crypto, keyfile
from convodesk.connectors import setup
from convodesk.lines.models import Connection


class Command(BaseCommand):
    help = "Re-encrypt every stored secret under the current SECRET_KEY (old keys from SECRET_KEY_FALLBACKS)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--new-key",
            action="store_true",
            help="Write a new random key to the installation's key file and re-encrypt under it.",
        )

    def handle(self, *args, new_key=False, **options):
        if new_key:
            return self._with_new_key(options["verbosity"])
        rotated, unreadable = rotate_all()
        self._report(rotated, unreadable, options["verbosity"])

    def _report(self, rotated: int, unreadable: list[int], verbosity: int) -> None:
        if verbosity:
            self.stdout.write(
                _("Re-encrypted %(n)s stored secrets under the current key.") % {"n": rotated}
            )
        if unreadable:
            raise CommandError(
                _(
                    "No key reads the secrets of connections %(ids)s (left unchanged): add the key "
                    "they were stored with to SECRET_KEY_FALLBACKS, or set them again."
                )
                % {"ids": ", ".join(map(str, unreadable))}
            )

    def _with_new_key(self, verbosity: int) -> None:
        path = settings.SECRET_KEY_FILE
        if keyfile.read(path) != settings.SECRET_KEY:
            raise CommandError(
                _(
                    "The key comes from the SECRET_KEY environment variable: set the new key there, "
                    "the old one in SECRET_KEY_FALLBACKS, and run rotate_key without --new-key."
                )
            )
        new = secrets.token_urlsafe(50)
        keys = [new, settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
        # The new key is on disk before any secret depends on it; the rotation is all or
        # nothing, and only then does the new file take the old one's place.
        tmp = path.with_name(f".{path.name}.new")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(new + "\n")
        try:
            rotated, unreadable = rotate_all(keys, all_or_nothing=True)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if unreadable:
            tmp.unlink(missing_ok=True)
            self._report(0, unreadable, verbosity)
        tmp.replace(path)
        self._report(rotated, [], verbosity)
        if verbosity:
            self.stdout.write(
                _("Wrote the new key to %(path)s; start the server again to use it.")
                % {"path": path}
            )


def rotate_all(keys: list[str] | None = None, all_or_nothing=False) -> tuple[int, list[int]]:
    """Re-encrypt each connection's secrets under the first of `keys` (SECRET_KEY by default), in
    one transaction; returns (how many, ids no key reads). Rows are locked while they change, so
    a fetch writing its position cannot undo a rotation."""
    rotated, unreadable = 0, []
    with transaction.atomic():
        ids = list(Connection.objects.order_by("pk").values_list("pk", flat=True))
        for pk in ids:
            connection = Connection.objects.select_for_update().get(pk=pk)
            try:
                count = setup.rotate_secrets(connection, lambda t: crypto.rotate(t, keys))
            except InvalidToken:
                unreadable.append(pk)
                continue
            connection.save(update_fields=["secret_encrypted", "config"])
            rotated += count
        if unreadable and all_or_nothing:
            transaction.set_rollback(True)
    return rotated, unreadable
