"""A real gunicorn process, started the way the compose file starts it: invitation tokens never
reach its access log (nor Django's log lines), and with DEBUG=false it refuses to start on the
public development SECRET_KEY."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from surveys.services import invitations_create

from .conftest import ROOT, database_url, free_port, stack_env, wait_for

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def _gunicorn(port: int, env: dict, log) -> subprocess.Popen:
    return subprocess.Popen(
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
            "--access-logfile",
            "-",
            "--logger-class",
            "civic.logs.AccessLogger",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _status(port: int, path: str, **headers) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        return opener.open(request, timeout=10).status
    except urllib.error.HTTPError as error:
        return error.code


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _env(tmp_path, **extra) -> dict:
    return stack_env(
        DATABASE_URL=database_url(),
        REDIS_URL="",
        DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="false",
        MEDIA_ROOT=str(tmp_path / "media"),
        **extra,
    )


def test_invitation_tokens_never_reach_the_access_log(study, tmp_path):
    valid = invitations_create(study=study, count=1)[0].token
    used = invitations_create(study=study, count=1)
    used[0].invitation.used_at = used[0].invitation.expires_at
    used[0].invitation.save(update_fields=["used_at"])
    guess = "g" * 43
    port, log_path = free_port(), tmp_path / "gunicorn.log"
    with open(log_path, "ab") as log:
        proc = _gunicorn(port, _env(tmp_path, SECRET_KEY="stack-" + "k" * 50), log)
    try:
        wait_for(lambda: _up(port), timeout=60, what="gunicorn to serve /healthz")
        assert _status(port, f"/i/{valid}/") == 302
        assert (
            _status(port, f"/i/{used[0].token}/") == 302
        )  # a used link opens the done page, where the resident may still withdraw
        assert _status(port, f"/i/{guess}/?x=1", Referer=f"http://127.0.0.1:{port}/i/{valid}/") == 404
        assert _status(port, "/", Referer=f"http://127.0.0.1:{port}/i/{valid}/") == 200
        wait_for(lambda: log_path.read_text().count("[redacted]") >= 5, timeout=10, what="the access log lines")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    text = log_path.read_text(errors="replace")
    for token in (valid, used[0].token, guess):
        assert token not in text, text[-3000:]
    assert '"GET /i/[redacted]/ HTTP/1.1" 302' in text, text[-3000:]


def test_production_refuses_to_start_on_the_development_secret_key(tmp_path):
    port, log_path = free_port(), tmp_path / "gunicorn.log"
    env = _env(tmp_path)
    env.pop("SECRET_KEY", None)
    with open(log_path, "ab") as log:
        proc = _gunicorn(port, env, log)
    try:
        code = proc.wait(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert code != 0
    assert "SECRET_KEY is not set" in log_path.read_text(errors="replace")


def _up(port: int) -> bool:
    with contextlib.suppress(OSError):
        return _status(port, "/healthz") == 200
    return False
