"""Background tasks of the CRM (django-tasks): big imports. The body is
`imports.run_import`; the argument is the import's id as a string."""

from django_tasks import task


@task()
def run_crm_import(import_id: str) -> None:
    from .imports import run_import

    run_import(import_id)
