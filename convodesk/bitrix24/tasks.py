"""Background task of the outbound events (django-tasks): one OnOpenLineSessionFinish attempt."""

from django_tasks import task


@task()
def deliver_event(delivery_id: int) -> str:
    from .events import attempt

    return attempt(delivery_id)
