"""Statements PostgreSQL plans once per connection, for the requests that come most often.

Planning a statement that joins half a dozen tables costs PostgreSQL about a millisecond, several
times what running it costs; the autosave's statement is such a one and runs several times a
minute for every resident. A prepared statement is planned on its first executions and reused for
as long as the (persistent) connection lives. Django keeps psycopg's automatic preparation off, so
connection poolers in transaction mode keep working; this cursor prepares only what it executes,
so a deployment behind such a pooler must leave these few statements to a session-mode pool (none
is used by Civic's docker-compose.yml).

Elsewhere (SQLite, which caches its statements itself) it is an ordinary cursor.
"""

from __future__ import annotations

from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections


def _prepared_cursor_class():
    import psycopg

    class PreparedCursor(psycopg.Cursor):
        """A server-side binding cursor that prepares every statement it executes."""

        def execute(self, query, params=None, *, prepare=True, binary=None):
            return super().execute(query, params, prepare=prepare, binary=binary)

    return PreparedCursor


_cursor_class = None
NEVER_BY_ITSELF = 2**62


def _timezone_follow(db, cursor) -> None:
    """As Django's own cursors: timestamps read in the connection's time zone."""
    from django.db.backends.postgresql.psycopg_any import register_tzloader
    from psycopg.pq import Format

    loader = db.connection.adapters.get_loader(db.connection.adapters.types["timestamptz"].oid, Format.TEXT)
    if db.timezone != loader.timezone:
        register_tzloader(db.timezone, cursor)


@contextmanager
def prepared_cursor(using: str = DEFAULT_DB_ALIAS, *, health_check: bool = True):
    """A cursor like `connection.cursor()` (same error wrapping and query log) whose statements
    PostgreSQL prepares. Parameters are bound by the server, so each `%s` must be a value, never
    a piece of SQL. Without `health_check` the connection is used as it is (see fetchone)."""
    global _cursor_class
    db = connections[using]
    if db.vendor != "postgresql":
        with db.cursor() as cursor:
            yield cursor
        return
    if _cursor_class is None:
        _cursor_class = _prepared_cursor_class()
    # What BaseDatabaseWrapper.cursor() does, with this cursor class.
    if health_check:
        db.close_if_health_check_failed()
    db.ensure_connection()
    if db.connection.prepare_threshold is None:
        # Django turns preparation off (None), which also ignores prepare=True; a threshold no
        # query reaches keeps it off for every statement but these.
        db.connection.prepare_threshold = NEVER_BY_ITSELF
    with db.wrap_database_errors:
        raw = _cursor_class(db.connection)
    _timezone_follow(db, raw)
    db.validate_thread_sharing()
    cursor = db.make_debug_cursor(raw) if db.queries_logged else db.make_cursor(raw)
    with cursor:
        yield cursor


def _fetch(db, sql: str, params, health_check: bool, many: bool):
    with prepared_cursor(db.alias, health_check=health_check) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if many else cursor.fetchone()


def fetchone(sql: str, params, using: str = DEFAULT_DB_ALIAS):
    """Runs one prepared statement that is safe to run twice (a read, or an idempotent upsert)
    and returns its first row, or None.

    Django's CONN_HEALTH_CHECKS spends a round trip (SELECT 1) on the first query of a request to
    learn that a kept connection still works. Outside a transaction this runs the statement
    straight away instead, and only when it fails on a connection that turns out to be dead (the
    database restarted) opens a new one and runs it once more: the same recovery, without the
    round trip on every request."""
    return _run_once_or_twice(sql, params, using, many=False)


def fetchall(sql: str, params, using: str = DEFAULT_DB_ALIAS) -> list:
    """As fetchone, every row."""
    return _run_once_or_twice(sql, params, using, many=True)


def _run_once_or_twice(sql: str, params, using: str, many: bool):
    db = connections[using]
    optimistic = (
        db.vendor == "postgresql"
        and db.health_check_enabled
        and not db.health_check_done
        and db.connection is not None
        and not db.in_atomic_block
    )
    if not optimistic:
        return _fetch(db, sql, params, True, many)
    db.health_check_done = True
    try:
        return _fetch(db, sql, params, False, many)
    except (OperationalError, InterfaceError):
        if db.is_usable():
            raise  # the statement failed, not the connection (a timeout): nothing to recover
        db.close()
        return _fetch(db, sql, params, False, many)
