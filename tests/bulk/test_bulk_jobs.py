"""Large bulk selections run as a background job with progress; only the owner follows it."""

import pytest

from convodesk.conversations import bulk
from convodesk.conversations.jobs import BulkJob, JobStatus
from convodesk.conversations.lifecycle import Status
from convodesk.conversations.models import Conversation

from ..export.builders import handled

BULK_URL = "/contact-center/conversations/bulk/"


@pytest.fixture
def three(org):
    return [handled(org.conn, f"c{i}", org.op1, start=i * 60, take=5, reply=10) for i in range(3)]


@pytest.fixture
def threshold_two(settings):
    settings.CONVODESK = {**settings.CONVODESK, "BULK_BACKGROUND_ROWS": 2}


def test_a_selection_above_the_threshold_waits_for_a_worker_and_its_page_polls(
    org, three, threshold_two, settings, client
):
    settings.TASKS = {
        "default": {
            **settings.TASKS["default"],
            "BACKEND": "django_tasks.backends.dummy.DummyBackend",
        }
    }
    client.force_login(org.admin)
    response = client.post(BULK_URL, {"action": "close", "ids": [c.pk for c in three]})
    job = BulkJob.objects.get()
    assert job.status == JobStatus.PENDING and job.total == 3
    assert all(c.status == Status.AGENT_REPLIED for c in Conversation.objects.all())
    fragment = client.get(response["Location"], headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 1s"' in fragment and "<html" not in fragment
    bulk.run_bulk_job(job.pk)  # what the worker does
    job.refresh_from_db()
    assert (job.status, job.progress, job.succeeded) == (JobStatus.DONE, 3, 3)
    assert job.finished_at is not None and job.percent == 100
    fragment = client.get(response["Location"], headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in fragment and "3 conversations closed." in fragment
    bulk.run_bulk_job(job.pk)  # a second delivery does nothing
    assert BulkJob.objects.get().succeeded == 3


def test_a_large_selection_runs_through_the_task_backend(org, three, threshold_two, client):
    client.force_login(org.admin)
    client.post(BULK_URL, {"action": "spam", "ids": [c.pk for c in three]})
    job = BulkJob.objects.get()
    assert job.status == JobStatus.DONE and job.succeeded == 3  # the immediate backend ran it
    assert set(Conversation.objects.values_list("status", flat=True)) == {Status.SPAM}


def test_progress_is_saved_as_the_job_goes(org, settings, monkeypatch):
    convs = [handled(org.conn, f"p{i}", org.op1, start=i * 60, take=5) for i in range(5)]
    monkeypatch.setattr(bulk, "PROGRESS_EVERY", 2)
    seen = []
    real_act = bulk.act

    def act_and_watch(user, action, conversation_id, **kw):
        seen.append(BulkJob.objects.get().progress)
        real_act(user, action, conversation_id, **kw)

    monkeypatch.setattr(bulk, "act", act_and_watch)
    bulk.start_bulk(org.admin, "close", bulk.Selection([c.pk for c in convs]))
    assert seen == [0, 0, 2, 2, 4]
    assert BulkJob.objects.get().progress == 5


def test_only_the_owner_sees_a_bulk_job(org, three, client):
    job = bulk.start_bulk(org.admin, "close", bulk.Selection([three[0].pk]))
    client.force_login(org.supervisor)
    assert client.get(f"/contact-center/conversations/bulk/{job.pk}/").status_code == 404
    client.force_login(org.admin)
    assert client.get(f"/contact-center/conversations/bulk/{job.pk}/").status_code == 200
