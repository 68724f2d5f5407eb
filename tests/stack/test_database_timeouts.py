"""PostgreSQL statement and lock timeouts: a table locked by someone else (a migration, a long
transaction) gives a resident's save a clear "busy, try again" instead of a request that hangs
for the whole lock; the autosave script keeps the answer and sends it again."""

from __future__ import annotations

import json
import threading

import psycopg
import pytest
from django.db import connection
from django.test import Client

from surveys.models import Rating
from surveys.services import invitations_create

from .conftest import database_url

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def test_connections_carry_the_configured_timeouts(settings):
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        statement = cursor.fetchone()[0]
        cursor.execute("SHOW lock_timeout")
        lock = cursor.fetchone()[0]
    options = settings.DATABASES["default"]["OPTIONS"]["options"]
    assert statement != "0" and lock != "0"
    assert f"statement_timeout={_ms(statement)}" in options and f"lock_timeout={_ms(lock)}" in options


def _ms(shown: str) -> int:
    units = {"ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000}
    for unit in sorted(units, key=len, reverse=True):
        if shown.endswith(unit):
            return int(shown.removesuffix(unit)) * units[unit]
    return int(shown)


def test_a_save_into_a_locked_table_answers_busy_instead_of_hanging(study):
    token = invitations_create(study=study, count=1)[0].token
    resident = Client()
    assert resident.get(f"/i/{token}/").status_code == 302
    resident.post("/survey/language/", {"language": "en"})
    resident.post("/survey/consent/", {"consent": "yes"})

    locked, release, gave_up = threading.Event(), threading.Event(), threading.Event()

    def hold_lock() -> None:
        with psycopg.connect(database_url().replace("postgres://", "postgresql://"), autocommit=False) as other:
            other.execute(f"LOCK TABLE {Rating._meta.db_table} IN ACCESS EXCLUSIVE MODE")
            locked.set()
            # Released by the test, or after a minute so a missing lock timeout fails instead of hanging.
            if not release.wait(60):
                gave_up.set()
            other.rollback()

    holder = threading.Thread(target=hold_lock, daemon=True)
    holder.start()
    assert locked.wait(30)
    try:
        response = resident.post(
            "/survey/answer/",
            json.dumps({"kind": "rating", "site": "s1", "criterion": "accessibility", "value": 3, "client_seq": 1}),
            content_type="application/json",
            headers={"accept": "application/json"},
        )
    finally:
        release.set()
        holder.join(10)
    assert not gave_up.is_set(), "the save waited for the whole lock"
    assert response.status_code == 503, response.content
    assert "busy" in response.json()["error"]["message"] and "Retry-After" in response.headers
    # Once the lock is gone the same save goes through.
    response = resident.post(
        "/survey/answer/",
        json.dumps({"kind": "rating", "site": "s1", "criterion": "accessibility", "value": 3, "client_seq": 1}),
        content_type="application/json",
        headers={"accept": "application/json"},
    )
    assert response.status_code == 200 and Rating.objects.get().value == 3
