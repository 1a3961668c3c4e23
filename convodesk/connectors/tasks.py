"""Background tasks of the connectors (django-tasks): one outbound delivery attempt per run, and
the fetch of a Telegram message's files once the message is stored."""

from django_tasks import task


@task()
def deliver_message(message_id: int) -> str:
    from .delivery import attempt

    return attempt(message_id)


@task()
def keep_telegram_files(message_id: int) -> int:
    from .telegram import keep_files

    return len(keep_files(message_id))
