"""A rolled-back transaction enqueues no task; a committed one enqueues one.

Counted on the real broker: the private Redis's `celery` list, with no worker consuming it."""

from __future__ import annotations

import base64
import json

import pytest
from django.db import transaction

from analytics.models import AnalysisRun
from analytics.services import analysis_request
from conftest import build_study

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]


class Rollback(Exception):
    pass


def _queued_run_ids(redis) -> list[int]:
    messages = [json.loads(raw) for raw in redis.lrange("celery", 0, -1)]
    assert all(m["headers"]["task"] == "analytics.tasks.analysis_run_task" for m in messages)
    return [_kwargs(m)["run_id"] for m in messages]


def _kwargs(message: dict) -> dict:
    body = message["body"]
    if message["properties"].get("body_encoding") == "base64":
        body = base64.b64decode(body)
    _args, kwargs, _embed = json.loads(body)
    return kwargs


def test_a_rolled_back_request_publishes_nothing_and_a_committed_one_publishes_once(broker, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    study = build_study("enqueue")
    redis = broker.client()

    with pytest.raises(Rollback), transaction.atomic():
        analysis_request(study=study, reason="rolled back")
        raise Rollback
    assert redis.llen("celery") == 0
    assert not AnalysisRun.objects.exists()

    with transaction.atomic():
        run = analysis_request(study=study, reason="committed")
        # Nothing leaves before the commit: a worker must never look for a row it cannot see.
        assert redis.llen("celery") == 0
    assert redis.llen("celery") == 1
    assert _queued_run_ids(redis) == [run.pk]
    run.refresh_from_db()
    assert run.status == AnalysisRun.Status.QUEUED
