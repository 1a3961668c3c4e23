"""`manage.py db_worker`: django-tasks-db's worker, with a heartbeat for `/readyz`.

The ops app comes before django_tasks_db in INSTALLED_APPS, so this command is the one Django
runs. Stopping is the package's own: SIGTERM or SIGINT lets the task in hand finish (a second
signal abandons it), and an idle worker exits at once.
"""

import threading

from django.db import connection
from django_tasks_db.management.commands import db_worker

from convodesk.ops.heartbeat import Beat


class Command(db_worker.Command):
    help = db_worker.Command.help + ". Writes the `worker` heartbeat that /readyz reads."

    def handle(self, *args, **options):
        beat = Beat("worker")
        done = threading.Event()

        def beating():
            while not done.is_set():
                beat.tick(force=True)
                connection.close()  # this thread's own connection
                done.wait(beat.every)

        thread = threading.Thread(target=beating, name="heartbeat", daemon=True)
        thread.start()
        try:
            return super().handle(*args, **options)
        finally:
            done.set()
            thread.join(timeout=5)
            beat.stop()
