"""`manage.py db_worker`: django-tasks-db's worker, with heartbeats for `/readyz`: `worker` for
the default queue, `jobs` for the long jobs' queue (heartbeat.worker_roles).

The ops app comes before django_tasks_db in INSTALLED_APPS, so this command is the one Django
runs. Stopping is the package's own: SIGTERM or SIGINT lets the task in hand finish (a second
signal abandons it), and an idle worker exits at once.
"""

import threading

from django.db import connection
from django_tasks_db.management.commands import db_worker

from convodesk.ops.heartbeat import Beat, worker_roles


class Command(db_worker.Command):
    help = db_worker.Command.help + ". Writes the heartbeats that /readyz reads."

    def handle(self, *args, **options):
        beats = [Beat(role) for role in worker_roles(options.get("queue_name") or "default")]
        done = threading.Event()

        def beating():
            while not done.is_set():
                for beat in beats:
                    beat.tick(force=True)
                connection.close()  # this thread's own connection
                done.wait(beats[0].every)

        thread = threading.Thread(target=beating, name="heartbeat", daemon=True)
        thread.start()
        try:
            return super().handle(*args, **options)
        finally:
            done.set()
            thread.join(timeout=5)
            for beat in beats:
                beat.stop()
