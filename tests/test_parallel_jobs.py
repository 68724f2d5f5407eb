"""Parallel clicks create exactly one job per (kind, inputs), on real PostgreSQL with threads.

Each thread is its own web request: its own connection and transaction, all released at once
by a barrier. The advisory lock of JobKind.request makes the look-up of a joinable job and
the insert one critical section, so 20 requests leave one row and publish it once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from analytics.models import AnalysisRun
from analytics.services import analysis_request
from analytics.tests.helpers import study_fill
from conftest import build_study
from exports.models import ExportJob
from exports.services import export_request
from exports.tests.conftest import researcher

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL (threads, advisory locks)"),
]

CLICKS = 20


def _in_parallel(request) -> list:
    barrier = threading.Barrier(CLICKS)
    results, errors = [], []

    def click():
        try:
            barrier.wait(timeout=30)
            with transaction.atomic():
                results.append(request().pk)
        except Exception as exc:  # noqa: BLE001 — reported by the assertion below.
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(CLICKS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


@pytest.fixture
def published(monkeypatch):
    sent = []
    lock = threading.Lock()

    def publish(kind, pk):
        with lock:
            sent.append((kind.name, pk))
        return True

    monkeypatch.setattr("core.jobs.JobKind.publish", publish)
    return sent


def test_twenty_parallel_export_requests_make_one_job(published):
    study = build_study("parallel-export")
    user = researcher(study, "clicker")
    ids = _in_parallel(lambda: export_request(study=study, user=user))
    assert ExportJob.objects.filter(study=study).count() == 1
    assert set(ids) == {ExportJob.objects.get(study=study).pk}
    assert published == [("export", ids[0])]


def test_twenty_parallel_analyse_now_clicks_make_one_run(published):
    study = build_study("parallel-analysis")
    study_fill(study)
    ids = _in_parallel(lambda: analysis_request(study=study, reuse_active=True))
    assert AnalysisRun.objects.filter(study=study).count() == 1
    assert set(ids) == {AnalysisRun.objects.get(study=study).pk}
    assert published == [("analysis", ids[0])]
