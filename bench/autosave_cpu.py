"""CPU time the application spends on one autosave, next to the trivial view, in one process.

bench/autosave.py measures the whole server under load, where how gunicorn's workers share the
connections and what else the machine runs move the figures by a third from one round to the next.
This one calls the WSGI application (civic.wsgi.application: the autosave's lane, then the full
Django stack) directly, one request after another, with a real resident session on PostgreSQL,
and reports CPU milliseconds per request (time.process_time: waiting for PostgreSQL is not
counted), the best of several rounds, and the ratio to the trivial view.

    python bench/autosave_cpu.py [--requests 2000] [--rounds 4] [--database-url postgres://...]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import env, prepare, resident_session, start_gunicorn, stop, wait_serving  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/civic_bench_autosave_cpu"),
    )
    args = parser.parse_args()
    tokens = prepare(args.database_url, 1)
    # The resident's session is walked as a browser would, through a real server.
    server, port = start_gunicorn(args.database_url, workers=1, threads=1)
    try:
        wait_serving(port, workers=1)
        resident = resident_session(port, tokens[0])
    finally:
        stop(server)

    os.environ.update(env(args.database_url))
    import django

    django.setup()
    from civic.wsgi import application

    cookie = "; ".join(f"{k}={v}" for k, v in resident.cookies.items())
    statuses: list[str] = []
    rng = random.Random(1)

    def call(method: str, path: str, body: bytes = b"", content_type: str = "") -> None:
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": f"127.0.0.1:{port}",
            "HTTP_COOKIE": cookie,
            "HTTP_X_CSRFTOKEN": resident.cookies.get("csrftoken", ""),
            "HTTP_REFERER": "http://127.0.0.1/",
            "HTTP_ACCEPT": "application/json",
            "CONTENT_TYPE": content_type,
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "http",
            "wsgi.version": (1, 0),
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        result = application(environ, lambda status, headers, exc_info=None: statuses.append(status))
        b"".join(result)
        result.close()

    def ping() -> None:
        call("GET", "/ping")

    def autosave() -> None:
        answer = {
            "kind": "rating",
            "site": f"s{rng.randint(1, 20)}",
            "criterion": rng.choice(["accessibility", "aesthetics"]),
            "value": rng.randint(1, 4),
        }
        call("POST", "/survey/answer/", json.dumps(answer).encode(), "application/json")

    best: dict[str, float] = {}
    for _ in range(args.rounds):
        for name, request in (("trivial view", ping), ("autosave", autosave)):
            for _ in range(200):  # warm: the prepared statement, the kept session
                request()
            statuses.clear()
            start = time.process_time()
            for _ in range(args.requests):
                request()
            ms = 1000 * (time.process_time() - start) / args.requests
            if set(statuses) != {"200 OK"}:
                raise SystemExit(f"{name}: answered {sorted(set(statuses))}")
            best[name] = min(best.get(name, float("inf")), ms)
    print(f"{args.rounds} rounds of {args.requests} requests, in one process; best round")
    for name, ms in best.items():
        print(f"{name:>13}: {ms:.3f} ms CPU per request")
    print(f"autosave / trivial view, CPU per request: {best['autosave'] / best['trivial view']:.2f}")


if __name__ == "__main__":
    main()
