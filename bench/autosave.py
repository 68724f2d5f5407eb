"""Autosave throughput and latency against gunicorn + PostgreSQL, next to a trivial view.

Starts gunicorn on a dedicated PostgreSQL database, gives each of 50 concurrent clients its own
resident session, then for the same duration hammers (a) the trivial `/ping` view and (b) the
autosave endpoint with ratings. Prints requests per second and p50/p95 latency for both and their
ratio. Targets (issue 2): autosave throughput >= 50% of the trivial view's, p95 <= 100 ms.

    python bench/autosave.py [--clients 50] [--seconds 15] [--database-url postgres://...]

Clients run in several processes (threads inside each) so the Python client is not the bottleneck.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from http.cookies import SimpleCookie
from pathlib import Path
from threading import Thread

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(database_url: str) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "SECRET_KEY": "bench-" + "k" * 50,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "REDIS_URL": "",
    }


def _prepare(database_url: str, n_clients: int) -> list[str]:
    """Creates the database, migrates, builds a small study and one invitation per client."""
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    env = _env(database_url)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    script = (
        "import django; django.setup();"
        "from conftest import build_study; from surveys.services import invitations_create;"
        "s = build_study('bench', n_sites=20, n_images=3);"
        f"print('\\n'.join(i.token for i in invitations_create(study=s, count={n_clients})))"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env={**env, "DJANGO_SETTINGS_MODULE":
                         "civic.settings", "MEDIA_ROOT": "/tmp/civic-bench-media"},
                         check=True, capture_output=True, text=True)
    return out.stdout.split()


class Client:
    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str | None = None, headers: dict | None = None):
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        except (http.client.HTTPException, OSError):
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

    def form(self, path: str, fields: dict) -> int:
        from urllib.parse import urlencode

        status, _ = self.request("POST", path, urlencode(fields), {
            "Content-Type": "application/x-www-form-urlencoded", "X-CSRFToken": self.cookies.get("csrftoken", ""),
            "Referer": "http://127.0.0.1/"})
        return status


def _resident_session(port: int, token: str) -> Client:
    client = Client(port)
    client.request("GET", f"/i/{token}/")
    client.request("GET", "/survey/language/")
    assert client.form("/survey/language/", {"language": "en"}) == 302
    assert client.form("/survey/consent/", {"consent": "yes"}) == 302
    return client


def _worker(port: int, tokens: list[str], mode: str, seconds: float, start_at: float, queue) -> None:
    latencies: list[float] = []
    errors = [0]
    clients = [_resident_session(port, t) for t in tokens] if mode == "autosave" else [Client(port) for _ in tokens]

    def loop(client: Client, seed: int) -> None:
        rng = random.Random(seed)
        while time.time() < start_at:
            time.sleep(0.001)
        end = start_at + seconds
        while time.time() < end:
            if mode == "ping":
                t0 = time.perf_counter()
                status, _ = client.request("GET", "/ping")
            else:
                body = json.dumps({"kind": "rating", "site": f"s{rng.randint(1, 20)}",
                                   "criterion": rng.choice(["accessibility", "aesthetics"]),
                                   "value": rng.randint(1, 4)})
                t0 = time.perf_counter()
                status, _ = client.request("POST", "/survey/answer/", body, {
                    "Content-Type": "application/json", "Accept": "application/json",
                    "X-CSRFToken": client.cookies.get("csrftoken", ""), "Referer": "http://127.0.0.1/"})
            latencies.append(time.perf_counter() - t0)
            if status != 200:
                errors[0] += 1

    threads = [Thread(target=loop, args=(c, i)) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    queue.put((latencies, errors[0]))


def _measure(port: int, tokens: list[str], mode: str, seconds: float, processes: int) -> dict:
    queue = mp.Queue()
    start_at = time.time() + 3.0 + 0.05 * len(tokens)
    chunks = [tokens[i::processes] for i in range(processes)]
    procs = [mp.Process(target=_worker, args=(port, c, mode, seconds, start_at, queue)) for c in chunks if c]
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    latencies = sorted(x for lat, _ in results for x in lat)
    errors = sum(e for _, e in results)
    q = statistics.quantiles(latencies, n=100)
    return {"requests": len(latencies), "rps": len(latencies) / seconds, "p50_ms": q[49] * 1000,
            "p95_ms": q[94] * 1000, "errors": errors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL",
                                                                 "postgres://postgres@127.0.0.1:5432/civic_bench_autosave"))
    args = parser.parse_args()
    tokens = _prepare(args.database_url, args.clients)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "civic.wsgi", "-b", f"127.0.0.1:{port}", "-k", "gthread",
         "-w", str(args.workers), "--threads", str(args.threads), "--log-level", "warning"],
        cwd=ROOT, env=_env(args.database_url), start_new_session=True,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        print(f"gunicorn gthread {args.workers} workers x {args.threads} threads; {args.clients} clients; "
              f"{args.seconds:.0f} s per measurement; PostgreSQL {args.database_url.rsplit('/', 1)[1]}")
        ping = _measure(port, tokens, "ping", args.seconds, args.processes)
        save = _measure(port, tokens, "autosave", args.seconds, args.processes)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)
    for name, r in (("trivial view", ping), ("autosave", save)):
        print(f"{name:>13}: {r['rps']:8.1f} req/s  p50 {r['p50_ms']:6.1f} ms  p95 {r['p95_ms']:6.1f} ms  "
              f"({r['requests']} requests, {r['errors']} non-200)")
    print(f"autosave / trivial throughput: {save['rps'] / ping['rps']:.2f}  (target >= 0.50)")
    print(f"autosave p95: {save['p95_ms']:.1f} ms  (target <= 100 ms)")


if __name__ == "__main__":
    main()
