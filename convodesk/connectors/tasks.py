"""Background tasks of the connectors (django-tasks): one outbound delivery attempt per run."""

from django_tasks import task


@task()
def deliver_message(message_id: int) -> str:
    from .delivery import attempt

    return attempt(message_id)
