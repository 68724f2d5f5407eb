"""Fixtures that start the real stack as throwaway processes: a private Redis on a free port, real
`celery -A civic worker` processes and a private PostgreSQL cluster.

Other people share this machine's PostgreSQL and Redis, so no test stops or restarts those; the
faults are injected into private copies. The tests need PostgreSQL (a worker process must see the
rows the test commits), so they skip on SQLite and when a binary is missing — unless
CIVIC_REQUIRE_REAL_STACK=1 (set by CI), where a missing piece is a failure, not a skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from kombu import pools as kombu_pools

ROOT = Path(__file__).resolve().parents[2]
REQUIRE_REAL_STACK = os.environ.get("CIVIC_REQUIRE_REAL_STACK", "").strip().lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> None:
    """Skips locally; fails in CI, where the real stack is a requirement."""
    if REQUIRE_REAL_STACK:
        pytest.fail(f"{reason} (CIVIC_REQUIRE_REAL_STACK=1, so this is a failure)", pytrace=False)
    pytest.skip(reason)


def binary(name: str, *candidates: str) -> str:
    found = shutil.which(name) or next((c for c in candidates if Path(c).exists()), None)
    if not found:
        unavailable(f"{name} is not installed")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate: Callable[[], object], *, timeout: float, what: str, interval: float = 0.1):
    """Polls until predicate() is truthy and returns it; fails the test with `what` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}", pytrace=False)
        time.sleep(interval)


@pytest.fixture(autouse=True)
def _needs_postgresql():
    engine = django_settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine:
        unavailable(
            "stack tests need PostgreSQL: set DATABASE_URL=postgres://... "
            f"(a worker process cannot share the test's {engine.rsplit('.', 1)[-1]} database)"
        )


# --- Redis ---------------------------------------------------------------------------------------


class PrivateRedis:
    """A redis-server subprocess on its own port, without persistence, that a test may kill and
    start again on the same port (so clients reconnect to the same URL)."""

    def __init__(self, directory: Path):
        self.executable = binary("redis-server")
        self.port = free_port()
        self.directory = directory
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self):
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2, socket_connect_timeout=2)

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.executable,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=open(self.directory / "redis.log", "ab"),
            stderr=subprocess.STDOUT,
        )

        def pong():
            with contextlib.suppress(Exception):
                return self.client().ping()

        wait_for(pong, timeout=10, what="the private redis-server to answer PING")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.kill()


def reset_celery_connections(app) -> None:
    """Drops the app's cached broker pools and result backend so the next publish uses the
    current `broker_url` / `result_backend` (Celery caches both on first use)."""
    # kombu keeps every connection pool in a registry keyed by broker URL: a pool closed here
    # but left registered would be handed back, closed ("Acquire on closed pool"), to the next
    # publisher on the same URL (a later private Redis that reuses the port, or the default one).
    kombu_pools.reset()
    app._pool = None
    with contextlib.suppress(AttributeError, KeyError):
        app.__dict__["amqp"]._producer_pool = None
    app._backend_cache = None
    with contextlib.suppress(AttributeError):
        del app._local.backend


@pytest.fixture
def broker(private_redis, settings) -> Iterator[PrivateRedis]:
    """This process publishes to the private Redis (no eager tasks), and uses it as result
    backend and as Django's cache, as a production web process does."""
    from civic.celery import app

    keys = ("broker_url", "result_backend", "task_always_eager")
    saved = {key: app.conf[key] for key in keys}
    app.conf.update(broker_url=private_redis.url, result_backend=private_redis.url, task_always_eager=False)
    reset_celery_connections(app)
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": private_redis.url,
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
    assert f":{private_redis.port}/" in app.connection_for_write().as_uri(), "publisher not redirected"
    yield private_redis
    app.conf.update(saved)
    reset_celery_connections(app)


# --- Celery workers ------------------------------------------------------------------------------


def database_url() -> str:
    """The URL of the database this test uses (pytest-django's `test_<name>`)."""
    d = connection.settings_dict
    auth = d["USER"] + (f":{d['PASSWORD']}" if d.get("PASSWORD") else "")
    return f"postgres://{auth}@{d['HOST'] or '127.0.0.1'}:{d['PORT'] or 5432}/{d['NAME']}"


def stack_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CELERY_")}
    env.update(DJANGO_SETTINGS_MODULE="civic.settings", PYTHONUNBUFFERED="1", LOG_LEVEL="INFO")
    env.update(extra)
    return env


class Worker:
    """A real `celery -A civic worker --pool=prefork --concurrency=1 -Q celery` subprocess."""

    def __init__(self, name: str, redis_url: str, directory: Path):
        self.name = name
        self.log_path = directory / f"worker-{name}.log"
        self.env = stack_env(
            DATABASE_URL=database_url(),
            REDIS_URL=redis_url,
            CELERY_BROKER_URL=redis_url,
            MEDIA_ROOT=str(directory / "media"),
        )
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self, *, timeout: float = 90, beat: bool = False) -> None:
        """`beat=True` also runs Celery beat inside the worker (its schedule, as in production)."""
        self.starts += 1
        with open(self.log_path, "a") as log:
            log.write(f"\n=== start {self.starts} ===\n")
        offset = self.log_path.stat().st_size
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "civic",
                "worker",
                "--pool=prefork",
                "--concurrency=1",
                "-Q",
                "celery",
                "-n",
                f"{self.name}@%h",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                *(["-B", "-s", str(self.log_path.parent / f"beat-{self.name}")] if beat else []),
            ],
            cwd=ROOT,
            env=self.env,
            stdout=open(self.log_path, "ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def ready():
            if self.proc.poll() is not None:
                pytest.fail(f"worker {self.name} exited early:\n{self.log()[-3000:]}", pytrace=False)
            return " ready." in self.log()[offset:]

        wait_for(ready, timeout=timeout, what=f"worker {self.name} to be ready", interval=0.2)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def children(self) -> list[int]:
        """The pool processes: with --concurrency=1, the one child that runs tasks."""
        pids: list[int] = []
        for task in Path(f"/proc/{self.proc.pid}/task").glob("*"):
            with contextlib.suppress(OSError):
                pids += [int(p) for p in (task / "children").read_text().split()]
        return pids

    def stop(self) -> None:
        """Kills the worker and its pool at once: the private Redis and the test's rows are
        thrown away next, so a warm shutdown (several seconds on a busy machine) buys nothing."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)


@pytest.fixture
def start_worker(broker, transactional_db, tmp_path) -> Iterator[Callable[..., Worker]]:
    """start_worker("w1") starts a worker on the private Redis and the test database; every
    worker is stopped before pytest-django flushes the database."""
    workers: list[Worker] = []

    def start(name: str = "w1", *, beat: bool = False) -> Worker:
        worker = Worker(name, broker.url, tmp_path)
        workers.append(worker)
        worker.start(beat=beat)
        return worker

    yield start
    for worker in workers:
        worker.stop()
        # Shown by pytest only when the test fails.
        print(f"--- worker {worker.name} log (tail) ---\n{worker.log()[-4000:]}")


# --- PostgreSQL ----------------------------------------------------------------------------------


class PrivatePostgres:
    """A PostgreSQL cluster made with initdb in a temporary directory, owned by `postgres` (the
    server refuses to run as root), on its own port and socket directory."""

    def __init__(self):
        bindirs = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
        bindir = next((d for d in bindirs if (d / "initdb").exists()), None)
        if bindir is None and shutil.which("initdb"):
            bindir = Path(shutil.which("initdb")).parent
        if bindir is None:
            unavailable("initdb (PostgreSQL server binaries) is not installed")
        self.bindir = bindir
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="civic-stack-pg-"))
        self.data = self.directory / "data"
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.directory, "postgres")

    def _run(self, *args: str) -> None:
        command = [str(a) for a in args]
        if self.as_postgres:
            command = ["su", "postgres", "-c", " ".join(f"'{c}'" for c in command)]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def _ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            self.bindir / "pg_ctl",
            "-D",
            self.data,
            "-w",
            "-t",
            "30",
            "-l",
            self.directory / "log",
            "-o",
            options,
            action,
            *extra,
        )

    def init(self) -> None:
        self._run(self.bindir / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        self.start()

    def url(self, name: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def restart(self) -> None:
        self._ctl("restart", "-m", "fast")

    def stop(self) -> None:
        self._ctl("stop", "-m", "fast")

    def start(self) -> None:
        self._ctl("start")

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            self._ctl("stop", "-m", "immediate")
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    server.init()
    yield server
    server.destroy()
