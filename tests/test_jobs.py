"""The job framework shared by every kind (core.jobs): attempts, failures, heartbeats."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from core import jobs
from exports.models import ExportJob
from exports.services import export_build, export_request


@pytest.fixture
def private_root(settings, tmp_path):
    settings.PRIVATE_ROOT = tmp_path / "private"
    return Path(settings.PRIVATE_ROOT)


@pytest.mark.django_db
def test_every_kind_is_registered_with_one_implementation():
    assert set(jobs.REGISTRY) >= {"analysis", "negotiation", "export"}
    for kind in jobs.REGISTRY.values():
        assert type(kind) is jobs.JobKind
        assert kind.task.name == kind.task_path


@pytest.mark.django_db
def test_an_export_counts_its_attempt_once(study, private_root):
    job = export_build(job_id=export_request(study=study, user=None, enqueue=False).pk)
    assert (job.status, job.attempts) == ("done", 1)


@pytest.mark.django_db
def test_a_failing_mkdir_marks_the_export_failed(study, settings, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    settings.PRIVATE_ROOT = blocker / "exports"
    job = export_build(job_id=export_request(study=study, user=None, enqueue=False).pk)
    assert job.status == "failed" and "exports" in job.error and job.finished_at is not None
    assert not jobs.REGISTRY["export"].stale_ids(now=timezone.now() + timedelta(days=1))


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the heartbeat thread needs its own connection")
def test_the_heartbeat_keeps_a_long_job_from_looking_stale(study, monkeypatch):
    monkeypatch.setattr(jobs, "HEARTBEAT_INTERVAL", timedelta(seconds=0.05))
    job = ExportJob.objects.create(study=study)
    kind = jobs.REGISTRY["export"]
    past = timezone.now() - jobs.STALE_RUNNING - timedelta(seconds=5)
    seen = {}

    def body():
        ExportJob.objects.filter(pk=job.pk).update(heartbeat_at=past)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            beat = ExportJob.objects.get(pk=job.pk).heartbeat_at
            if beat > past:
                seen["beat"] = beat
                return
            time.sleep(0.02)

    kind.execute(job.pk, body)
    assert "beat" in seen, "the heartbeat thread wrote heartbeat_at while the body ran"


@pytest.mark.django_db
def test_a_stale_job_is_swept_and_a_beating_one_is_not(study):
    kind = jobs.REGISTRY["export"]
    now = timezone.now()
    stuck = ExportJob.objects.create(
        study=study, status="running", started_at=now, heartbeat_at=now - jobs.STALE_RUNNING
    )
    alive = ExportJob.objects.create(
        study=study, status="running", started_at=now - timedelta(hours=1), heartbeat_at=now
    )
    ids = kind.stale_ids(now=now)
    assert stuck.pk in ids and alive.pk not in ids
    assert kind.claim(stuck.pk) and not kind.claim(alive.pk)
    assert kind.claim(alive.pk, take_over=True), "a redelivered message takes a running row over"
