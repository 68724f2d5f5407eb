"""Restart PostgreSQL → the application recovers without a restart of its own.

gunicorn (one sync worker, so one persistent connection, CONN_MAX_AGE=60) serves Civic from a
private PostgreSQL cluster, which the test restarts and then stops and starts. The first request
after the server is back must succeed: CONN_HEALTH_CHECKS notices that the kept connection died
and opens a new one. Without it that request would fail with "connection already closed". Neither
the gunicorn master nor its worker may have been restarted."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from .conftest import ROOT, database_url, free_port, stack_env, wait_for

# The django_db mark makes pytest-django create the test database, whose schema the server copies.
pytestmark = [pytest.mark.stack, pytest.mark.django_db]


def _get(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


def _children(pid: int) -> list[int]:
    return [int(p) for t in Path(f"/proc/{pid}/task").glob("*") for p in (t / "children").read_text().split()]


def _copy_schema(private_postgres, name: str) -> None:
    """Gives the private cluster the migrated schema of pytest-django's test database: a
    schema-only dump takes a second where `migrate` takes half a minute on a busy machine."""
    dump = subprocess.run(
        [private_postgres.bindir / "pg_dump", "--schema-only", "--no-owner", "--no-privileges", "-d", database_url()],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout
    subprocess.run(
        [private_postgres.bindir / "psql", "-q", "-v", "ON_ERROR_STOP=1", "-d", private_postgres.url(name)],
        input=dump,
        check=True,
        capture_output=True,
        timeout=60,
    )


@pytest.fixture
def server(private_postgres, django_db_setup, tmp_path):
    name = f"civic_restart_{os.getpid()}"
    with psycopg.connect(private_postgres.url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    _copy_schema(private_postgres, name)
    env = stack_env(
        DATABASE_URL=private_postgres.url(name),
        REDIS_URL="",
        DEBUG="false",
        SECRET_KEY="stack-" + "k" * 50,
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="false",
        MEDIA_ROOT=str(tmp_path / "media"),
    )
    port = free_port()
    log = open(tmp_path / "gunicorn.log", "ab")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "civic.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            "1",
            "-k",
            "sync",
            "--timeout",
            "60",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def up():
        with contextlib.suppress(OSError):
            return _get(port, "/healthz") == 200

    wait_for(up, timeout=60, what="gunicorn to serve /healthz")
    yield proc, port
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    print((tmp_path / "gunicorn.log").read_text(errors="replace")[-4000:])


# An invitation link with an unknown token reads the invitation table: a real query, no fixture data.
DB_PAGE = "/i/not-a-real-token/"


def test_the_app_serves_again_right_after_postgresql_restarts(server, private_postgres):
    proc, port = server
    db_page_status = _get(port, DB_PAGE)
    assert db_page_status < 500 and _get(port, "/healthz") == 200
    [worker] = _children(proc.pid)

    private_postgres.restart()  # returns once the new server accepts connections
    assert _get(port, "/healthz") == 200, "the first request after the restart must succeed"
    assert _get(port, DB_PAGE) == db_page_status

    # A request while PostgreSQL is down fails (there is no database to answer from), and the
    # next one after it comes back succeeds.
    private_postgres.stop()
    assert _get(port, "/healthz") >= 500
    private_postgres.start()
    assert _get(port, "/healthz") == 200
    assert _get(port, DB_PAGE) == db_page_status

    assert proc.poll() is None and _children(proc.pid) == [worker], "gunicorn and its worker were not restarted"
