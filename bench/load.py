"""Load: simulated residents autosaving against gunicorn + PostgreSQL + Redis + a Celery worker,
reconciled against the clients' own logs.

Each client opens its invitation, consents, then autosaves ratings (random site, criterion and
value, a rising client_seq) with a pause of about --interval seconds, and logs every answer the
server acknowledged with 200. Meanwhile a planner asks for an analysis every --analyse-every
seconds, so the worker computes reports while residents write. At the end the database is
reconciled with the logs:

- lost: an acknowledged answer whose latest value is not the one stored (row missing, older
  client_seq, or another value at the same client_seq);
- duplicated: more than one row for one (participant, wave, site, criterion);
- 5xx responses and transport errors; p50/p95/p99 latency of the autosaves.

    python bench/load.py [--clients 200] [--seconds 120] [--interval 1.0]
        [--database-url postgres://postgres@127.0.0.1:5432/civic_bench_load]
        [--redis-url redis://127.0.0.1:6379/14]

RELIABILITY 38 (500 residents autosaving every 5 s for 10 minutes; p95 under 500 ms, no 5xx,
nothing lost or duplicated):

    python bench/load.py --reliability-38

Exits non-zero when anything was lost or duplicated or a 5xx was seen.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from threading import Thread

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (  # noqa: E402
    ROOT,
    Client,
    django_script,
    env,
    percentiles,
    prepare,
    resident_session,
    start_gunicorn,
    stop,
    wait_serving,
)

N_SITES = 20
CRITERIA = ("accessibility", "aesthetics")
PLANNER_PASSWORD = "bench-planner-pw-9x"
WORKER_LOG = "/tmp/civic-bench-load-worker.log"


def _residents(port: int, tokens: list[str], args, start_at: float, queue) -> None:
    """One process of clients (a thread each). Puts (logs, latencies, statuses, errors)."""
    clients = {token: resident_session(port, token, timeout=60) for token in tokens}
    logs: dict[str, list[tuple[str, str, int, int]]] = {t: [] for t in tokens}
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors: list[str] = []

    def loop(token: str, client: Client, seed: int) -> None:
        rng = random.Random(seed)
        seq = 0
        time.sleep(max(0.0, start_at - time.time()) + rng.random() * args.interval)
        end = start_at + args.seconds
        while time.time() < end:
            seq += 1
            site, criterion, value = f"s{rng.randint(1, N_SITES)}", rng.choice(CRITERIA), rng.randint(1, 4)
            body = json.dumps(
                {"kind": "rating", "site": site, "criterion": criterion, "value": value, "client_seq": seq}
            )
            t0 = time.perf_counter()
            try:
                status, data = client.post_json("/survey/answer/", body)
            except Exception as exc:  # noqa: BLE001 — a transport error is a finding, not a crash
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            latencies.append(time.perf_counter() - t0)
            statuses[status] = statuses.get(status, 0) + 1
            if status == 200 and json.loads(data).get("saved"):
                logs[token].append((site, criterion, value, seq))
            time.sleep(rng.uniform(0.5, 1.5) * args.interval)

    threads = [Thread(target=loop, args=(t, c, i)) for i, (t, c) in enumerate(clients.items())]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put((logs, latencies, statuses, errors))


def _planner(port: int, args, start_at: float, stop_at: float, results: dict) -> None:
    """Logs in as the study's planner and presses "Analyse now" every --analyse-every seconds."""
    client = Client(port, timeout=60)
    client.request("GET", "/accounts/login/")
    status = client.form("/accounts/login/", {"username": "bench-planner", "password": PLANNER_PASSWORD})
    results["login"] = status
    time.sleep(max(0.0, start_at - time.time()))
    while time.time() < stop_at:
        status = client.form("/studies/bench/analytics/analyse/", {})
        results.setdefault("statuses", []).append(status)
        time.sleep(args.analyse_every)


def _reconcile(database_url: str, logs: dict[str, list]) -> dict:
    """Compares the database with what the clients were told was saved (runs in Django)."""
    path = Path(f"/tmp/civic-bench-load-{os.getpid()}.json")
    path.write_text(json.dumps(logs))
    code = f"""
import json
from django.db.models import Count
from surveys.models import Invitation, Rating
from surveys.tokens import token_hash
logs = json.load(open({str(path)!r}))
acked = {{}}
for token, entries in logs.items():
    for site, criterion, value, seq in entries:
        key = (token, site, criterion)
        if key not in acked or seq > acked[key][1]:
            acked[key] = (value, seq)
participant_of = dict(Invitation.objects.filter(token_hash__in=[token_hash(t) for t in logs])
                      .values_list("token_hash", "participant_id"))
rows = {{(r["participant_id"], r["site__code"], r["criterion__name"]): (r["value"], r["client_seq"])
        for r in Rating.objects.values("participant_id", "site__code", "criterion__name", "value", "client_seq")}}
lost, newer_unacked = [], 0
for (token, site, criterion), (value, seq) in acked.items():
    stored = rows.get((participant_of.get(token_hash(token)), site, criterion))
    if stored is None or stored[1] < seq or (stored[1] == seq and stored[0] != value):
        lost.append([token[:6], site, criterion, value, seq, stored])
    elif stored[1] > seq:
        newer_unacked += 1  # a later save reached the database but its response did not arrive
duplicates = (Rating.objects.values("participant", "wave", "site", "criterion")
              .annotate(n=Count("id")).filter(n__gt=1).count())
print(json.dumps({{"acknowledged_keys": len(acked), "rows": Rating.objects.count(), "lost": len(lost),
                   "lost_examples": lost[:5], "duplicated": duplicates, "newer_unacked": newer_unacked}}))
"""
    try:
        return json.loads(django_script(database_url, code).strip().splitlines()[-1])
    finally:
        path.unlink(missing_ok=True)


def _runs(database_url: str) -> dict:
    code = """
import json
from django.db.models import Count
from analytics.models import AnalysisRun
print(json.dumps(dict(AnalysisRun.objects.values_list("status").annotate(n=Count("id")))))
"""
    return json.loads(django_script(database_url, code).strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--interval", type=float, default=1.0, help="mean pause between a client's autosaves")
    parser.add_argument("--analyse-every", type=float, default=15.0)
    parser.add_argument("--processes", type=int, default=4, help="client processes (threads inside each)")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=8, help="threads per gunicorn worker")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_LOAD_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/civic_bench_load"),
    )
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_LOAD_REDIS_URL", "redis://127.0.0.1:6379/14"))
    parser.add_argument(
        "--reliability-38",
        action="store_true",
        help="RELIABILITY 38: --clients 500 --interval 5 --seconds 600 (other options still apply)",
    )
    args = parser.parse_args()
    if args.reliability_38:
        args.clients, args.interval, args.seconds = 500, 5.0, 600.0

    import redis

    redis.Redis.from_url(args.redis_url).flushdb()  # a dedicated database number: stale tasks out
    tokens = prepare(args.database_url, args.clients, n_sites=N_SITES, staff_password=PLANNER_PASSWORD)
    worker = subprocess.Popen(
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
            "bench-load@%h",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env(args.database_url, args.redis_url),
        start_new_session=True,
        stdout=open(WORKER_LOG, "w"),
        stderr=subprocess.STDOUT,
    )
    server, port = start_gunicorn(
        args.database_url, workers=args.workers, threads=args.threads, redis_url=args.redis_url
    )
    planner: dict = {}
    try:
        wait_serving(port)  # gunicorn listens before its workers have loaded Django
        print(
            f"{args.clients} residents autosaving every ~{args.interval:g} s for {args.seconds:g} s; gunicorn "
            f"gthread {args.workers}x{args.threads}; PostgreSQL {args.database_url.rsplit('/', 1)[1]}; "
            f"Redis {args.redis_url}; 1 Celery worker; analysis requested every {args.analyse_every:g} s",
            flush=True,
        )
        queue = mp.Queue()
        start_at = time.time() + 5.0 + 0.05 * args.clients
        chunks = [tokens[i :: args.processes] for i in range(args.processes)]
        procs = [mp.Process(target=_residents, args=(port, c, args, start_at, queue)) for c in chunks if c]
        for proc in procs:
            proc.start()
        planner_thread = Thread(target=_planner, args=(port, args, start_at, start_at + args.seconds, planner))
        planner_thread.start()
        results = [queue.get() for _ in procs]
        for proc in procs:
            proc.join()
        planner_thread.join()
        # Let the worker finish the last requested analysis, so its writes are part of the run.
        deadline = time.time() + 120
        while time.time() < deadline and any(s in _runs(args.database_url) for s in ("pending", "queued", "running")):
            time.sleep(2)
    finally:
        stop(server)
        stop(worker)

    logs = {token: entries for logs, *_ in results for token, entries in logs.items()}
    latencies = sorted(x for _, lat, _, _ in results for x in lat)
    statuses: dict[int, int] = {}
    for _, _, st, _ in results:
        for code, n in st.items():
            statuses[code] = statuses.get(code, 0) + n
    errors = [e for *_, errs in results for e in errs]
    reconciled = _reconcile(args.database_url, logs)
    runs = _runs(args.database_url)
    five_xx = sum(n for code, n in statuses.items() if code >= 500)
    q = percentiles(latencies)

    print(
        f"autosaves: {len(latencies)} ({len(latencies) / args.seconds:.1f}/s), "
        f"statuses {dict(sorted(statuses.items()))}, "
        f"transport errors {len(errors)}{' e.g. ' + errors[0] if errors else ''}"
    )
    print(
        f"latency: p50 {q['p50_ms']:.1f} ms  p95 {q['p95_ms']:.1f} ms  p99 {q['p99_ms']:.1f} ms"
        "  (RELIABILITY 38: p95 under 500 ms)"
    )
    print(
        f"acknowledged answers {sum(len(v) for v in logs.values())} over {reconciled['acknowledged_keys']} "
        f"(resident, site, criterion) keys; rating rows {reconciled['rows']}"
    )
    print(
        f"lost: {reconciled['lost']}  duplicated: {reconciled['duplicated']}  5xx: {five_xx}  "
        f"(stored newer than last acknowledged: {reconciled['newer_unacked']})"
    )
    if reconciled["lost_examples"]:
        print(f"lost examples: {reconciled['lost_examples']}")
    print(f"planner: login {planner.get('login')}, analyse statuses {planner.get('statuses')}; analysis runs {runs}")
    failed = reconciled["lost"] or reconciled["duplicated"] or five_xx or errors
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
