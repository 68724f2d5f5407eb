"""A worker lost mid-job, and a whole worker killed, with a real Redis and real `celery -A civic worker` processes.

28: SIGKILL the pool process mid-analysis → the message is redelivered (acks_late +
    task_reject_on_worker_lost) and the result row exists exactly once.
29: the same analytics task delivered twice concurrently → computed once, one deterministic row.
"""

from __future__ import annotations

import os
import re
import signal
import time

import pytest
from django.db import transaction

from analytics.loading import study_data_load
from analytics.measures import compute_report
from analytics.models import AnalysisRun
from analytics.services import analysis_request
from analytics.tasks import analysis_run_task

from .answers import FAST, SLOW, canonical, study_with_answers
from .conftest import wait_for

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def _status(run_id: int) -> tuple[str, int, int]:
    return AnalysisRun.objects.filter(pk=run_id).values_list("status", "progress", "attempts").get()


def _computing(run_id: int) -> bool:
    status, progress, _attempts = _status(run_id)
    return status == "running" and progress >= 10


def test_a_killed_worker_child_hands_the_analysis_back_and_it_is_saved_once(start_worker, broker, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    study = study_with_answers("killed")
    worker = start_worker("w1")
    with transaction.atomic():
        run = analysis_request(study=study, reason="kill test", **SLOW)

    # Progress passes 10% once the answers are loaded and the report computation has begun.
    wait_for(lambda: _computing(run.pk), timeout=60, what="the analysis to be computing on the worker")
    [child] = worker.children()
    os.kill(child, signal.SIGKILL)
    assert _status(run.pk)[0] == "running", "the analysis finished before the kill; make it slower"

    wait_for(lambda: _status(run.pk)[0] in ("done", "failed"), timeout=120, what="the redelivered analysis to finish")
    run.refresh_from_db()
    assert (run.status, run.error) == ("done", "")
    assert run.attempts == 2, "the redelivered message must have recomputed the run"
    assert run.result and run.result["waves"], "the report is saved"
    assert list(AnalysisRun.objects.filter(study=study).values_list("pk", "status")) == [(run.pk, "done")]
    log = worker.log()
    assert "WorkerLostError" in log or "Process 'ForkPoolWorker" in log, log[-3000:]
    assert worker.proc.poll() is None, "the worker's main process survives and restarts its child"
    # The row is saved before the task returns and the message is acknowledged just after.
    redis = broker.client()
    wait_for(
        lambda: redis.llen("celery") == 0 and redis.hlen("unacked") == 0,
        timeout=30,
        what="the redelivered message to be acknowledged",
    )


def test_a_run_whose_whole_worker_was_killed_is_taken_over_within_a_minute(start_worker, broker, settings, tmp_path):
    """The main process dies too (OOM killer, container kill): nobody rejects the message, which
    Redis keeps unacknowledged until the visibility timeout (an hour). The run's heartbeat stops
    with its worker; once it is STALE_RUNNING old, the beat sweep of the other worker (every 15 s,
    as in production) sends the run again and the stale claim takes it over. Nothing is aged
    by hand: the clock is real."""
    settings.MEDIA_ROOT = tmp_path / "media"
    study = study_with_answers("whole-worker")
    worker = start_worker("w1")
    with transaction.atomic():
        run = analysis_request(study=study, reason="whole worker killed", **SLOW)
    wait_for(lambda: _computing(run.pk), timeout=60, what="the analysis to be computing on the worker")
    os.killpg(worker.proc.pid, signal.SIGKILL)
    worker.proc.wait(timeout=10)
    killed_at = time.monotonic()
    assert _status(run.pk)[0] == "running"
    assert broker.client().hlen("unacked") == 1, "the message waits for the visibility timeout"

    start_worker("w2", beat=True)
    wait_for(lambda: _status(run.pk)[2] == 2, timeout=90, what="the new worker to take the run over")
    assert time.monotonic() - killed_at < 60, "taken over within a minute"
    wait_for(lambda: _status(run.pk)[0] in ("done", "failed"), timeout=120, what="the new worker to finish the run")
    run.refresh_from_db()
    assert (run.status, run.error, run.attempts) == ("done", "", 2)
    assert run.result and list(AnalysisRun.objects.filter(study=study).values_list("pk", flat=True)) == [run.pk]


def test_the_same_run_delivered_twice_at_once_is_computed_once(start_worker, broker, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    study = study_with_answers("twice", n_participants=40)
    workers = [start_worker("w1"), start_worker("w2")]
    with transaction.atomic():
        run = analysis_request(study=study, enqueue=False, reason="twice", **SLOW)
    # Two messages for one run, taken at the same moment by two single-process workers.
    messages = [analysis_run_task.apply_async(kwargs={"run_id": run.pk}) for _ in range(2)]

    def returned_values():
        # The task keeps no result in the backend; each worker logs what it returned.
        logs = "".join(w.log() for w in workers)
        found = [re.search(rf"analysis_run_task\[{m.id}\] succeeded in [0-9.e-]+s: '(\w+)'", logs) for m in messages]
        return all(found) and sorted(f.group(1) for f in found)

    returned = wait_for(returned_values, timeout=120, what="both deliveries to return")
    assert {w.log().count("analysis_run_task[") for w in workers} == {2}, "one delivery per worker"

    # One delivery computed ("done"); the other found the row claimed while the first was still
    # computing ("running") and did nothing.
    assert returned == ["done", "running"]
    run.refresh_from_db()
    assert (run.status, run.attempts) == ("done", 1)
    assert AnalysisRun.objects.filter(study=study).count() == 1


def test_two_runs_of_the_same_inputs_at_once_leave_one_deterministic_result(start_worker, broker, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    study = study_with_answers("same-inputs", n_participants=30)
    start_worker("w1")
    start_worker("w2")
    with transaction.atomic():
        runs = [analysis_request(study=study, reason=f"click {i}", **FAST) for i in range(2)]
    wait_for(
        lambda: not AnalysisRun.objects.filter(study=study).active().exists(), timeout=120, what="both runs to finish"
    )

    # One done row per (study, scope, inputs): the later save replaced the earlier row.
    rows = list(AnalysisRun.objects.filter(study=study))
    assert [r.status for r in rows] == ["done"], [(r.pk, r.status, r.error) for r in rows]
    assert rows[0].pk in {r.pk for r in runs}
    loaded = study_data_load(study=study)
    expected = compute_report(loaded.data, **FAST)
    expected["labels"] = {"groups": loaded.group_labels, "criteria": loaded.criterion_labels}
    assert canonical(rows[0].result) == canonical(expected)
