"""Background exports: a tracked job with progress, a file under EXPORT_ROOT, owner-only download."""

import io

import openpyxl
import pytest

from convodesk.accounts.models import Role
from convodesk.conversations import export
from convodesk.conversations.jobs import ExportJob, JobStatus

from .. import factories as f
from .builders import handled

EXPORT_URL = "/contact-center/conversations/export/"


@pytest.fixture
def three(org):
    return [
        handled(org.conn, f"c{i}", org.op1, start=i * 100, take=5, reply=20, close=30)
        for i in range(3)
    ]


@pytest.fixture
def big_threshold_is_two(settings):
    settings.CONVODESK = {**settings.CONVODESK, "EXPORT_BACKGROUND_ROWS": 2}


def test_a_background_export_goes_from_pending_to_done_with_progress_and_a_file(
    org, three, settings, export_root
):
    settings.TASKS = {
        "default": {
            **settings.TASKS["default"],
            "BACKEND": "django_tasks.backends.dummy.DummyBackend",
        }
    }
    job = export.start_export(
        org.admin, {"status": "closed", "sort": "started_at"}, ["id", "client"]
    )
    assert job.status == JobStatus.PENDING and job.owner == org.admin
    assert job.params == {"sort": "started_at", "status": "closed"}
    assert job.columns == ["id", "client"]
    assert job.filename.startswith("conversations-") and job.filename.endswith(".xlsx")
    export.run_export_job(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE
    assert job.progress == job.total == 3
    assert job.finished_at is not None and job.error == ""
    assert job.path.is_file() and export_root in job.path.parents
    book = openpyxl.load_workbook(job.path)
    assert [r[0] for r in book.active.iter_rows(min_row=2, values_only=True)] == [
        c.pk for c in three
    ]
    export.run_export_job(job.pk)  # a second delivery of the task does nothing
    job.refresh_from_db()
    assert job.status == JobStatus.DONE


def test_a_job_whose_owner_lost_the_export_permission_fails_with_a_reason(org, three, settings):
    settings.TASKS = {
        "default": {
            **settings.TASKS["default"],
            "BACKEND": "django_tasks.backends.dummy.DummyBackend",
        }
    }
    user = f.employee(
        "exporter", roles=[Role.objects.create(name="Exporter", view_conversations=30, export=30)]
    )
    job = export.start_export(user, {}, ["id"])
    user.roles.set([Role.objects.create(name="No more", view_conversations=30, export=0)])
    export.run_export_job(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "not allowed" in job.error
    assert not job.file_path


def test_above_the_threshold_the_button_offers_a_background_export_and_its_page_shows_the_download(
    org, three, big_threshold_is_two, client
):
    client.force_login(org.admin)
    offer = client.get(EXPORT_URL, {"status": "closed"})
    assert offer.status_code == 200 and "text/html" in offer["Content-Type"]
    assert "in the background" in offer.content.decode()
    assert not ExportJob.objects.exists()  # a GET never starts a job
    started = client.post(f"{EXPORT_URL}?status=closed")
    job = ExportJob.objects.get()
    assert (
        started.status_code == 302
        and started["Location"] == f"/contact-center/conversations/exports/{job.pk}/"
    )
    assert job.status == JobStatus.DONE and job.total == 3  # the immediate backend ran it
    page = client.get(started["Location"]).content.decode()
    assert f"/contact-center/conversations/exports/{job.pk}/download/" in page
    download = client.get(f"/contact-center/conversations/exports/{job.pk}/download/")
    assert download.status_code == 200
    assert download["Content-Disposition"] == f'attachment; filename="{job.filename}"'
    book = openpyxl.load_workbook(io.BytesIO(b"".join(download.streaming_content)))
    assert book.active.max_row == 4


def test_a_running_job_page_polls_and_a_finished_one_stops(org, three, settings, client):
    settings.TASKS = {
        "default": {
            **settings.TASKS["default"],
            "BACKEND": "django_tasks.backends.dummy.DummyBackend",
        }
    }
    job = export.start_export(org.admin, {}, ["id"])
    client.force_login(org.admin)
    fragment = client.get(
        f"/contact-center/conversations/exports/{job.pk}/", headers={"HX-Request": "true"}
    )
    html = fragment.content.decode()
    assert 'hx-trigger="every 1s"' in html and "<html" not in html
    export.run_export_job(job.pk)
    html = client.get(
        f"/contact-center/conversations/exports/{job.pk}/", headers={"HX-Request": "true"}
    ).content.decode()
    assert "hx-trigger" not in html and "3 conversations exported" in html


def test_only_the_owner_sees_or_downloads_a_job(org, three, client):
    job = export.start_export(org.admin, {}, ["id"])
    assert job.status == JobStatus.DONE
    client.force_login(org.supervisor)  # may export too, but it is not their job
    assert client.get(f"/contact-center/conversations/exports/{job.pk}/").status_code == 404
    assert (
        client.get(f"/contact-center/conversations/exports/{job.pk}/download/").status_code == 404
    )
    assert str(job.pk) not in client.get("/contact-center/conversations/exports/").content.decode()
    client.force_login(org.admin)
    assert str(job.pk) in client.get("/contact-center/conversations/exports/").content.decode()


def test_the_toolbar_notice_follows_the_latest_background_export_until_it_is_downloaded(
    org, three, settings, client
):
    settings.TASKS = {
        "default": {
            **settings.TASKS["default"],
            "BACKEND": "django_tasks.backends.dummy.DummyBackend",
        }
    }
    notice = "/contact-center/conversations/exports/notice/"
    client.force_login(org.admin)
    assert "hidden" in client.get(notice).content.decode()
    job = export.start_export(org.admin, {}, ["id"])
    running = client.get(notice).content.decode()
    assert "Exporting" in running and 'hx-trigger="every 2s"' in running
    client.force_login(org.supervisor)
    assert "hidden" in client.get(notice).content.decode()  # someone else's job
    client.force_login(org.admin)
    export.run_export_job(job.pk)
    ready = client.get(notice).content.decode()
    assert "Export ready" in ready and f"/exports/{job.pk}/download/" in ready
    assert "hx-trigger" not in ready
    client.get(f"/contact-center/conversations/exports/{job.pk}/download/")
    assert "hidden" in client.get(notice).content.decode()


def test_export_files_older_than_a_week_are_deleted_when_the_next_export_runs(org, three):
    old = export.start_export(org.admin, {}, ["id"])
    assert old.ready
    ExportJob.objects.filter(pk=old.pk).update(created_at=old.created_at - export.KEEP_EXPORTS)
    fresh = export.start_export(org.admin, {}, ["id"])
    old.refresh_from_db()
    assert fresh.ready and not old.ready and old.path is None


WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def writes_in(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(WRITES)]


def test_polling_a_running_export_writes_nothing_and_the_token_is_stamped_once_outside_the_request(
    org, three, settings, client, django_capture_on_commit_callbacks
):
    """A status poll every second beside a running export (issue 23): the web page and the API
    only read; the token's last-used time is written once per granularity, after the request's
    transaction (on_commit), and never by the polls in between."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from convodesk.api.models import ApiToken

    from ..api.conftest import Api, token_for

    settings.TASKS = {
        "default": {
            **settings.TASKS["default"],
            "BACKEND": "django_tasks.backends.dummy.DummyBackend",
        }
    }
    job = export.start_export(org.admin, {}, ["id"])
    ExportJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, progress=1, total=3)
    client.force_login(org.admin)
    page = f"/contact-center/conversations/exports/{job.pk}/"
    with CaptureQueriesContext(connection) as web:
        for _ in range(3):
            assert client.get(page, headers={"HX-Request": "true"}).status_code == 200
            assert client.get("/contact-center/conversations/exports/notice/").status_code == 200
    assert writes_in(web.captured_queries) == []

    api = Api(token_for(org.admin))
    with django_capture_on_commit_callbacks(execute=False) as first:
        status, body = api.get(f"/exports/{job.pk}")
    assert status == 200 and body["status"] == "running"
    assert len(first) == 1  # the stamp waits for the request's transaction to end
    assert ApiToken.objects.get().last_used_at is None
    first[0]()
    stamped = ApiToken.objects.get().last_used_at
    assert stamped is not None
    with CaptureQueriesContext(connection) as polls, django_capture_on_commit_callbacks() as more:
        for _ in range(5):
            assert api.get(f"/exports/{job.pk}")[0] == 200
    assert more == [] and writes_in(polls.captured_queries) == []
    assert ApiToken.objects.get().last_used_at == stamped


def test_a_token_stamp_the_database_refuses_does_not_fail_the_request(org, three, monkeypatch):
    from django.db import OperationalError

    from convodesk.api import auth
    from convodesk.api.models import ApiToken

    from ..api.conftest import Api, token_for

    api = Api(token_for(org.admin))

    def locked(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(auth.ApiToken.objects, "filter", locked)
    monkeypatch.setattr(auth.transaction, "on_commit", lambda fn: fn())
    assert api.get("/me")[0] == 200
    monkeypatch.undo()
    assert ApiToken.objects.get().last_used_at is None
