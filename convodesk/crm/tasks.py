"""Background tasks of the CRM (django-tasks): big imports. The body is
`imports.run_import`; the argument is the import's id as a string."""

from django.conf import settings
from django_tasks import task


@task(queue_name=settings.TASK_QUEUE_JOBS)
def run_crm_import(import_id: str) -> None:
    from .imports import run_import

    run_import(import_id)
