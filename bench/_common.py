"""Helpers the benchmarks share: a fresh PostgreSQL database with a study and invitations,
gunicorn as a subprocess, and a tiny cookie-keeping HTTP client that walks a resident's session."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
MEDIA_ROOT = "/tmp/civic-bench-media"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env(database_url: str, redis_url: str = "") -> dict:
    """Production-like settings (DEBUG off) over plain HTTP on 127.0.0.1."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "SECRET_KEY": "bench-" + "k" * 50,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "REDIS_URL": redis_url,
        "MEDIA_ROOT": MEDIA_ROOT,
        "DJANGO_SETTINGS_MODULE": "civic.settings",
    }


def django_script(database_url: str, code: str, redis_url: str = "") -> str:
    """Runs `code` after django.setup() in a subprocess on that database; returns its stdout."""
    out = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + code],
        cwd=ROOT,
        env=env(database_url, redis_url),
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout


def prepare(database_url: str, n_clients: int, *, n_sites: int = 20, staff_password: str = "") -> list[str]:
    """Creates the database, migrates, builds a study ("bench", `n_sites` sites) and one
    invitation per client; with `staff_password`, also a planner "bench-planner" of the study."""
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env(database_url), check=True)
    planner = (
        (
            "from django.contrib.auth import get_user_model; from surveys.models import StudyMembership;"
            f"u = get_user_model().objects.create_user('bench-planner', password={staff_password!r});"
            "StudyMembership.objects.create(study=s, user=u, role='planner')\n"
        )
        if staff_password
        else ""
    )
    script = (
        "from conftest import build_study; from surveys.services import invitations_create\n"
        f"s = build_study('bench', n_sites={n_sites}, n_images=3)\n"
        + planner
        + f"print('\\n'.join(i.token for i in invitations_create(study=s, count={n_clients})))"
    )
    return django_script(database_url, script).split()


def start_gunicorn(
    database_url: str, *, workers: int, threads: int, redis_url: str = ""
) -> tuple[subprocess.Popen, int]:
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "civic.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-k",
            "gthread",
            "-w",
            str(workers),
            "--threads",
            str(threads),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env(database_url, redis_url),
        start_new_session=True,
    )
    wait_port(port)
    return server, port


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {timeout:.0f} s")


def wait_serving(port: int, *, workers: int = 3, timeout: float = 120) -> None:
    """Waits until the application answers /ping on `workers` fresh connections in a row (each
    likely served by a booted worker): gunicorn accepts connections as soon as its master listens,
    while its workers may still be importing Django."""
    deadline = time.monotonic() + timeout
    answered = 0
    while answered < workers:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the application does not answer on port {port} after {timeout:.0f} s")
        try:
            status, _ = Client(port, timeout=timeout).request("GET", "/ping")
            answered = answered + 1 if status == 200 else 0
        except OSError:
            answered = 0
            time.sleep(0.2)


def stop(process: subprocess.Popen, timeout: float = 15) -> None:
    """Stops a process started with start_new_session=True, with its children."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout)
    except ProcessLookupError:
        pass


def percentiles(latencies: list[float]) -> dict:
    """p50/p95/p99 in milliseconds."""
    if len(latencies) < 2:
        return {"p50_ms": float("nan"), "p95_ms": float("nan"), "p99_ms": float("nan")}
    q = statistics.quantiles(latencies, n=100)
    return {"p50_ms": q[49] * 1000, "p95_ms": q[94] * 1000, "p99_ms": q[98] * 1000}


class Client:
    """One browser: a keep-alive connection and its cookies."""

    def __init__(self, port: int, timeout: float = 30):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str | None = None, headers: dict | None = None):
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        except (http.client.HTTPException, OSError):
            # The server closed an idle keep-alive connection: one retry on a new one.
            self.conn.close()
            self.conn.connect()
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        data = response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            cookie = SimpleCookie(header)
            for key, morsel in cookie.items():
                self.cookies[key] = morsel.value
        return response.status, data

    def _csrf_headers(self, content_type: str) -> dict:
        return {
            "Content-Type": content_type,
            "X-CSRFToken": self.cookies.get("csrftoken", ""),
            "Referer": "http://127.0.0.1/",
        }

    def form(self, path: str, fields: dict) -> int:
        headers = self._csrf_headers("application/x-www-form-urlencoded")
        status, _ = self.request("POST", path, urlencode(fields), headers)
        return status

    def post_json(self, path: str, body: str):
        headers = self._csrf_headers("application/json") | {"Accept": "application/json"}
        return self.request("POST", path, body, headers)


def resident_session(port: int, token: str, timeout: float = 30) -> Client:
    """Opens the invitation link, picks English and consents: ready to autosave."""
    client = Client(port, timeout)
    client.request("GET", f"/i/{token}/")
    client.request("GET", "/survey/language/")
    assert client.form("/survey/language/", {"language": "en"}) == 302
    assert client.form("/survey/consent/", {"consent": "yes"}) == 302
    return client
