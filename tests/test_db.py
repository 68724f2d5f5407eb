"""core/db.py: prepared statements on PostgreSQL, and recovery from a dead kept connection
without a health-check round trip on every request."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.utils import OperationalError
from django.test.utils import CaptureQueriesContext

from core.db import fetchone

pytestmark = pytest.mark.django_db(transaction=True)

needs_postgres = pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")


@needs_postgres
def test_a_statement_run_through_the_prepared_cursor_is_prepared_once():
    sql = "SELECT %s::int + 1"
    for i in range(7):
        assert fetchone(sql, [i]) == (i + 1,)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans + custom_plans FROM pg_prepared_statements WHERE statement = %s",
            [sql.replace("%s", "$1")],
        )
        assert cursor.fetchone()[0] >= 7


@needs_postgres
def test_a_dead_kept_connection_is_replaced_and_the_statement_run_again(settings):
    connection.ensure_connection()
    connection.health_check_enabled = True
    connection.health_check_done = False  # what a new request does (close_old_connections)
    connection.connection.close()  # PostgreSQL restarted under the kept connection
    assert fetchone("SELECT %s::int", [41]) == (41,)
    assert connection.is_usable()


@needs_postgres
def test_a_statement_that_fails_on_a_live_connection_is_not_run_again():
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 50")
    connection.health_check_enabled = True
    connection.health_check_done = False
    try:
        with CaptureQueriesContext(connection) as captured, pytest.raises(OperationalError):
            fetchone("SELECT pg_sleep(%s)", [0.5])
        assert len(captured) == 1
    finally:
        connection.close()
