"""The analysis service: request → enqueue after commit → claim → compute → save."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from analytics import services
from analytics.models import AnalysisRun
from analytics.services import (
    analysis_latest,
    analysis_pending_sweep,
    analysis_request,
    analysis_run,
    wave_close,
)
from analytics.tests.helpers import FAST, study_fill
from core import jobs
from surveys.models import Wave

APPLY_ASYNC = "analytics.tasks.analysis_run_task.apply_async"


def PUBLISHED(run):  # noqa: N802 - reads as a constant in the assertions
    return {"kwargs": {"run_id": run.pk}, "retry": False, "ignore_result": True}


@pytest.fixture
def filled(study):
    study_fill(study)
    return study


def _run(study, **kwargs):
    run = analysis_request(study=study, enqueue=False, **FAST, **kwargs)
    return analysis_run(run_id=run.pk)


def test_it_stores_a_report_with_the_contract_keys(filled):
    run = _run(filled)
    assert run.status == AnalysisRun.Status.DONE and run.progress == 100
    assert run.started_at and run.finished_at and len(run.inputs_fingerprint) == 64
    report = run.result
    assert {"study", "scale", "waves", "longitudinal"} <= set(report)
    assert report["scale"] == {"min": 1, "max": 4}
    wave = report["waves"][0]
    assert {"wave", "n_participants", "criteria", "rankings"} <= set(wave)
    assert wave["n_participants"] == 12
    criterion = wave["criteria"][0]
    assert {
        "criterion",
        "alpha_ordinal",
        "pairwise_disagreement",
        "between_group_variance",
        "within_group_variance",
        "between_group_share",
        "most_divergent_group",
        "groups",
    } <= set(criterion)
    assert {
        "group",
        "n",
        "mean",
        "divergence",
        "p_value",
        "q_value",
        "significant",
        "alpha_ordinal",
    } <= set(criterion["groups"][0])
    assert {"criterion", "kendall_w", "most_divergent_group", "groups"} <= set(wave["rankings"][0])
    assert {"criterion", "series", "changes"} <= set(report["longitudinal"][0])
    assert analysis_latest(filled) == run


def test_the_same_inputs_analysed_twice_leave_one_result_with_the_same_json(filled):
    first = _run(filled)
    second = _run(filled)
    assert second.result == first.result
    assert second.inputs_fingerprint == first.inputs_fingerprint
    assert list(AnalysisRun.objects.done().values_list("pk", flat=True)) == [second.pk]


def test_changed_answers_give_a_new_fingerprint_and_keep_the_old_result(filled):
    first = _run(filled)
    filled.participants.first().rating_set.update(value=4)
    second = _run(filled)
    assert second.inputs_fingerprint != first.inputs_fingerprint
    assert AnalysisRun.objects.done().count() == 2


def test_running_the_same_run_twice_computes_it_once(filled):
    run = analysis_request(study=filled, enqueue=False, **FAST)
    with mock.patch.object(services, "compute_report", wraps=services.compute_report) as compute:
        analysis_run(run_id=run.pk)
        again = analysis_run(run_id=run.pk)
    assert compute.call_count == 1
    assert again.status == AnalysisRun.Status.DONE and again.attempts == 1


def test_a_run_whose_worker_stopped_beating_is_claimed_again(filled):
    run = analysis_request(study=filled, enqueue=False, **FAST)
    long_ago = timezone.now() - jobs.STALE_RUNNING - timedelta(seconds=1)
    AnalysisRun.objects.filter(pk=run.pk).update(status="running", started_at=long_ago, heartbeat_at=long_ago)
    run = analysis_run(run_id=run.pk)
    assert (run.status, run.attempts) == (AnalysisRun.Status.DONE, 1)


def test_a_running_run_whose_worker_beats_is_not_claimed_even_when_old(filled):
    run = analysis_request(study=filled, enqueue=False, **FAST)
    long_ago = timezone.now() - jobs.STALE_QUEUED
    AnalysisRun.objects.filter(pk=run.pk).update(status="running", started_at=long_ago, heartbeat_at=timezone.now())
    assert analysis_run(run_id=run.pk).status == AnalysisRun.Status.RUNNING


def test_a_running_run_is_not_claimed_by_a_second_worker(filled):
    run = analysis_request(study=filled, enqueue=False, **FAST)
    AnalysisRun.objects.filter(pk=run.pk).update(status="running", started_at=timezone.now())
    assert analysis_run(run_id=run.pk).status == AnalysisRun.Status.RUNNING


def test_a_failing_computation_marks_the_run_failed_with_the_error(filled):
    run = analysis_request(study=filled, enqueue=False, **FAST)
    with mock.patch.object(services, "compute_report", side_effect=ValueError("bad matrix")):
        run = analysis_run(run_id=run.pk)
    assert run.status == AnalysisRun.Status.FAILED
    assert "bad matrix" in run.error and run.finished_at is not None


def test_progress_is_written_where_other_connections_see_it(filled):
    seen = []

    def fake_report(data, *, progress, **kwargs):
        for fraction in (0.0, 0.5, 1.0):
            progress(fraction)
            seen.append(AnalysisRun.objects.values_list("progress", flat=True).get())
        return {"study": data.slug}

    run = analysis_request(study=filled, enqueue=False, **FAST)
    with (
        mock.patch.object(services, "compute_report", side_effect=fake_report),
        mock.patch.object(services, "PROGRESS_INTERVAL", 0),
    ):
        analysis_run(run_id=run.pk)
    assert seen == [10, 54, 99]
    run.refresh_from_db()
    assert run.progress == 100


def test_a_rolled_back_transaction_enqueues_nothing(filled, django_capture_on_commit_callbacks):
    with mock.patch(APPLY_ASYNC) as apply_async:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            with pytest.raises(RuntimeError), transaction.atomic():
                analysis_request(study=filled)
                raise RuntimeError("roll back")
    assert callbacks == [] and apply_async.call_count == 0
    assert not AnalysisRun.objects.exists()


def test_a_committed_transaction_enqueues_once(filled, django_capture_on_commit_callbacks):
    with mock.patch(APPLY_ASYNC) as apply_async:
        with django_capture_on_commit_callbacks(execute=True):
            run = analysis_request(study=filled)
            assert apply_async.call_count == 0
    apply_async.assert_called_once_with(**PUBLISHED(run))
    run.refresh_from_db()
    assert run.status == AnalysisRun.Status.QUEUED and run.enqueued_at is not None


def test_a_broker_failure_leaves_the_run_pending_and_the_sweep_sends_it_again(
    filled, django_capture_on_commit_callbacks
):
    with mock.patch(APPLY_ASYNC, side_effect=OperationalError("Redis is down")):
        with django_capture_on_commit_callbacks(execute=True):
            run = analysis_request(study=filled)
    run.refresh_from_db()
    assert run.status == AnalysisRun.Status.PENDING
    with mock.patch(APPLY_ASYNC) as apply_async:
        assert analysis_pending_sweep() == 0  # still inside the grace period
        later = timezone.now() + jobs.SWEEP_GRACE + timedelta(seconds=1)
        assert analysis_pending_sweep(now=later) == 1
    apply_async.assert_called_once_with(**PUBLISHED(run))
    run.refresh_from_db()
    assert run.status == AnalysisRun.Status.QUEUED


def test_the_sweep_leaves_queued_and_finished_runs_alone(filled):
    done = _run(filled)
    queued = analysis_request(study=filled, enqueue=False)
    AnalysisRun.objects.filter(pk=queued.pk).update(status="queued")
    later = timezone.now() + timedelta(hours=1)
    with mock.patch(APPLY_ASYNC) as apply_async:
        assert analysis_pending_sweep(now=later) == 0
    assert apply_async.call_count == 0 and done.status == "done"


@pytest.fixture
def eager():
    from civic.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def test_in_eager_mode_the_task_runs_inline_after_commit(filled, eager, django_capture_on_commit_callbacks):
    with mock.patch.object(services, "DEFAULT_PARAMETERS", FAST):
        with django_capture_on_commit_callbacks(execute=True):
            run = analysis_request(study=filled)
    run.refresh_from_db()
    assert run.status == AnalysisRun.Status.DONE and run.result["study"] == filled.slug


def test_the_beat_entry_and_worker_startup_run_the_sweep(settings):
    from civic.celery import app
    from core import tasks

    entry = settings.CELERY_BEAT_SCHEDULE["sweep-pending-jobs"]
    assert entry["task"] == tasks.jobs_sweep_task.name
    assert entry["task"] in app.tasks
    assert {"analysis", "negotiation", "export"} <= set(jobs.REGISTRY)
    with mock.patch.object(tasks, "jobs_sweep", return_value=0) as sweep:
        from celery.signals import worker_ready

        worker_ready.send(sender=None)
    sweep.assert_called_once()


def test_the_task_is_acknowledged_late_and_retries_a_bounded_number_of_times():
    from analytics.tasks import analysis_run_task

    assert analysis_run_task.acks_late and analysis_run_task.reject_on_worker_lost
    assert analysis_run_task.max_retries == 3


def test_closing_a_wave_closes_it_and_requests_an_analysis(filled, django_capture_on_commit_callbacks):
    wave = Wave.objects.get(study=filled)
    with mock.patch(APPLY_ASYNC) as apply_async:
        with django_capture_on_commit_callbacks(execute=True):
            run = wave_close(wave=wave)
    wave.refresh_from_db()
    assert wave.status == Wave.Status.CLOSED
    apply_async.assert_called_once_with(**PUBLISHED(run))
    assert "w1" in run.reason


def test_the_admin_action_closes_the_wave_and_analyses(filled, personas, client, django_capture_on_commit_callbacks):
    wave = Wave.objects.get(study=filled)
    client.force_login(personas["admin"])
    with mock.patch(APPLY_ASYNC) as apply_async:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/admin/surveys/wave/",
                {"action": "close_and_analyse", "_selected_action": [wave.pk]},
            )
    assert response.status_code == 302
    wave.refresh_from_db()
    assert wave.status == Wave.Status.CLOSED
    assert apply_async.call_count == 1
    assert AnalysisRun.objects.get().requested_by == personas["admin"]


def test_a_wave_scope_analyses_only_that_wave(filled):
    wave = Wave.objects.get(study=filled)
    Wave.objects.create(study=filled, name="w2", order=2)
    run = _run(filled, scope=f"wave:{wave.pk}")
    assert [w["wave"] for w in run.result["waves"]] == ["w1"]


def test_an_unknown_scope_fails_the_run(filled):
    run = _run(filled, scope="wave:999999")
    assert run.status == AnalysisRun.Status.FAILED
    assert services.ERROR_UNKNOWN_SCOPE in run.error


def test_analyse_now_joins_a_waiting_run_and_publishes_again_one_that_missed_the_broker(
    filled, django_capture_on_commit_callbacks, monkeypatch
):
    published = []
    monkeypatch.setattr("core.jobs.JobKind.publish", lambda kind, pk: published.append(pk) or False)
    with django_capture_on_commit_callbacks(execute=True):
        waiting = analysis_request(study=filled)
    with django_capture_on_commit_callbacks(execute=True):
        assert analysis_request(study=filled, reuse_active=True) == waiting
    assert published == [waiting.pk], "a fresh pending run is waiting for its own publish"
    # Its publish failed (Redis down) and the grace period passed: a click sends it again.
    long_ago = timezone.now() - jobs.SWEEP_GRACE - timedelta(seconds=1)
    AnalysisRun.objects.filter(pk=waiting.pk).update(created_at=long_ago)
    with django_capture_on_commit_callbacks(execute=True):
        assert analysis_request(study=filled, reuse_active=True) == waiting
    assert published == [waiting.pk, waiting.pk]


def test_analyse_now_joins_a_live_run_but_never_a_stuck_one(filled):
    running = analysis_request(study=filled)
    now = timezone.now()
    AnalysisRun.objects.filter(pk=running.pk).update(status="running", started_at=now, heartbeat_at=now)
    assert analysis_request(study=filled, reuse_active=True) == running
    # A closed wave or a withdrawal changed the answers: a run already computing does not cover them.
    assert analysis_request(study=filled) != running
    AnalysisRun.objects.exclude(pk=running.pk).delete()
    stuck = now - jobs.STALE_RUNNING - timedelta(seconds=1)
    AnalysisRun.objects.filter(pk=running.pk).update(heartbeat_at=stuck)
    assert analysis_request(study=filled, reuse_active=True) != running
