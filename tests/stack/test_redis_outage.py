"""Stop Redis while residents answer: Redis — broker, result
backend and cache — dies while a resident autosaves. Every answer is still saved (answers go
straight to PostgreSQL in the request); an analysis requested meanwhile stays a pending row;
once Redis is back, the beat sweep publishes it and the worker computes it once."""

from __future__ import annotations

import json
import re
import signal
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.models import F
from django.test import Client

from analytics.models import AnalysisRun
from analytics.services import analysis_request
from conftest import build_study
from core.jobs import STALE_QUEUED, SWEEP_GRACE
from core.tasks import jobs_sweep_task
from surveys.models import Criterion, Participant, Rating, Site
from surveys.services import invitations_create

from .answers import FAST, study_with_answers
from .conftest import wait_for

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def _resident(token: str) -> Client:
    client = Client()
    assert client.get(f"/i/{token}/").status_code == 302
    assert client.post("/survey/language/", {"language": "en"}).status_code == 302
    assert client.post("/survey/consent/", {"consent": "yes"}).status_code == 302
    return client


def _autosave(client: Client, *, site: str, criterion: str, value: int, seq: int) -> None:
    response = client.post(
        "/survey/answer/",
        json.dumps({"kind": "rating", "site": site, "criterion": criterion, "value": value, "client_seq": seq}),
        content_type="application/json",
        headers={"accept": "application/json"},
    )
    assert (response.status_code, response.json()) == (200, {"saved": True, "stale": False}), response.content


def test_answers_survive_a_redis_outage_and_work_requested_meanwhile_runs_once_after(
    start_worker, broker, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    study = study_with_answers("outage", n_participants=12)
    sites = list(Site.objects.filter(study=study).values_list("code", flat=True))
    criteria = list(Criterion.objects.filter(study=study, kind="rating").values_list("name", flat=True))
    worker = start_worker("w1")
    client = _resident(invitations_create(study=study, count=1)[0].token)

    sent: dict[tuple[str, str], int] = {}
    seq = 0

    def save_round(value_of) -> None:
        nonlocal seq
        for site in sites:
            for criterion in criteria:
                seq += 1
                value = value_of(seq)
                _autosave(client, site=site, criterion=criterion, value=value, seq=seq)
                sent[(site, criterion)] = value

    save_round(lambda s: 1 + s % 4)
    broker.kill()
    # Several rounds, so rows are both created and overwritten while Redis is down.
    for k in range(3):
        save_round(lambda s, k=k: 1 + (s + k) % 4)
    started = time.monotonic()
    with transaction.atomic():
        run = analysis_request(study=study, reason="requested during the outage", **FAST)
    # Not a speed test: a request that hangs on the dead broker for 20 s (the Redis result
    # backend's reconnect loop) would hit the web server's timeout and lose the resident's click.
    assert time.monotonic() - started < 10, "publishing to a dead Redis must fail fast"

    participant = Participant.objects.get(study=study, consented_at__isnull=False)
    stored = {
        (r.site.code, r.criterion.name): (r.value, r.client_seq)
        for r in Rating.objects.filter(participant=participant).select_related("site", "criterion")
    }
    assert {key: value for key, (value, _seq) in stored.items()} == sent
    assert max(s for _value, s in stored.values()) == seq
    run.refresh_from_db()
    assert run.status == AnalysisRun.Status.PENDING, "the request is kept as a pending row"

    connected = worker.log().count("Connected to redis")
    broker.start()
    wait_for(
        lambda: worker.log().count("Connected to redis") > connected,
        timeout=60,
        what="the worker to reconnect to the restarted Redis",
    )
    # The beat sweep leaves runs younger than SWEEP_GRACE to their own publish; age this one
    # instead of sleeping.
    AnalysisRun.objects.filter(pk=run.pk).update(created_at=F("created_at") - SWEEP_GRACE - timedelta(seconds=1))
    # As beat would: the worker runs the sweep, which publishes the run (the sweep returns how
    # many runs it published; it ignores results, so read that from the worker's log).
    sweep = jobs_sweep_task.apply_async(retry=True)
    wait_for(
        lambda: f"jobs_sweep_task[{sweep.id}] succeeded" in worker.log(),
        timeout=60,
        what="the worker to run the sweep",
    )
    assert re.search(rf"jobs_sweep_task\[{sweep.id}\] succeeded in [0-9.e-]+s: 1\n", worker.log())

    wait_for(
        lambda: AnalysisRun.objects.filter(pk=run.pk, status__in=["done", "failed"]).exists(),
        timeout=60,
        what="the swept run to finish",
    )
    run.refresh_from_db()
    assert (run.status, run.error, run.attempts) == ("done", "", 1)
    assert AnalysisRun.objects.filter(study=study).count() == 1


def test_a_hung_redis_does_not_hold_the_request_that_asks_for_an_analysis(broker, settings, tmp_path):
    """Redis frozen (SIGSTOP: the TCP connection stays open, nothing answers), as on a failover
    or a network partition: the request still returns and the run waits as a pending row."""
    settings.MEDIA_ROOT = tmp_path / "media"
    study = build_study("hung")
    with transaction.atomic():
        warm = analysis_request(study=study, reason="before the freeze", **FAST)
    warm.refresh_from_db()
    assert warm.status == AnalysisRun.Status.QUEUED  # the publisher now holds a pooled connection

    outcome: dict = {}

    def ask() -> None:
        try:
            with transaction.atomic():
                # Other parameters: a run of the same inputs would join the queued one.
                outcome["run"] = analysis_request(study=study, reason="during the freeze", **{**FAST, "seed": 1})
        finally:
            connection.close()

    broker.proc.send_signal(signal.SIGSTOP)
    try:
        thread = threading.Thread(target=ask, daemon=True)
        thread.start()
        thread.join(timeout=30)
        assert not thread.is_alive(), "publishing to a frozen Redis held the request for 30 s"
    finally:
        broker.proc.send_signal(signal.SIGCONT)
        thread.join(timeout=30)
    run = AnalysisRun.objects.get(pk=outcome["run"].pk)
    assert run.status == AnalysisRun.Status.PENDING, "the sweep will publish it once Redis answers"


def test_a_run_whose_message_redis_lost_is_published_again_and_runs_once(start_worker, broker, settings, tmp_path):
    """Redis restarts with a task queued and without its data (no persistence
    here; the last second of an AOF in production). The run's row still says "queued"; once it
    has been for STALE_QUEUED, a worker's startup sweep sends it again."""
    settings.MEDIA_ROOT = tmp_path / "media"
    study = study_with_answers("lost-message", n_participants=12)
    with transaction.atomic():
        run = analysis_request(study=study, reason="queued before the restart", **FAST)
    redis = broker.client()
    assert redis.llen("celery") == 1
    broker.kill()
    broker.start()
    assert broker.client().llen("celery") == 0, "the message is gone with Redis's memory"

    AnalysisRun.objects.filter(pk=run.pk).update(enqueued_at=F("enqueued_at") - STALE_QUEUED - timedelta(seconds=1))
    start_worker("w1")
    wait_for(
        lambda: AnalysisRun.objects.filter(pk=run.pk, status__in=["done", "failed"]).exists(),
        timeout=60,
        what="the re-sent run to finish",
    )
    run.refresh_from_db()
    assert (run.status, run.error, run.attempts) == ("done", "", 1)
