"""Background tasks of the conversation list (django-tasks): big exports and big bulk actions.

The task bodies live next to the code they run (`export.run_export_job`, `bulk.run_bulk_job`);
these wrappers only give them a queue entry. Arguments are the job's id as a string.
"""

from django.conf import settings
from django_tasks import task


@task(queue_name=settings.TASK_QUEUE_JOBS)
def run_export(job_id: str) -> None:
    from .export import run_export_job

    run_export_job(job_id)


@task(queue_name=settings.TASK_QUEUE_JOBS)
def run_bulk(job_id: str) -> None:
    from .bulk import run_bulk_job

    run_bulk_job(job_id)
