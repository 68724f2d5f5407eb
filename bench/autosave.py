"""Autosave throughput and latency against gunicorn + PostgreSQL, next to a trivial view.

Starts gunicorn on a dedicated PostgreSQL database, gives each of 50 concurrent clients its own
resident session, then for the same duration hammers (a) the trivial `/ping` view, (b) `/healthz`
(one `SELECT 1`, for context) and (c) the autosave endpoint with ratings. Prints requests per
second and p50/p95 latency for each and the ratios. Targets: autosave throughput
>= 50% of the trivial view's, p95 <= 100 ms.

    python bench/autosave.py [--clients 50] [--seconds 8] [--rounds 3] [--database-url postgres://...]

The three are measured in turn, `--rounds` times over, each time on new connections: how
gunicorn's workers happen to share the 50 keep-alive connections, and what else the machine is
doing, change from one measurement to the next by as much as the difference measured, so one
measurement of each would compare luck. Throughput is over all rounds; each round's ratio is
printed too.

Clients run in several processes (threads inside each) so the Python client is not the bottleneck.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import sys
import time
from pathlib import Path
from threading import Thread

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (  # noqa: E402
    Client,
    percentiles,
    prepare,
    resident_session,
    start_gunicorn,
    stop,
    wait_serving,
)


def _worker(port: int, tokens: list[str], mode: str, seconds: float, start_at: float, warmup: float, queue) -> None:
    latencies: list[float] = []
    errors = [0]
    clients = [resident_session(port, t) for t in tokens] if mode == "autosave" else [Client(port) for _ in tokens]

    def loop(client: Client, seed: int) -> None:
        rng = random.Random(seed)
        while time.time() < start_at:
            time.sleep(0.001)
        # The first `warmup` seconds are not counted: every worker thread has opened its database
        # connection (and prepared its statements) before the window opens.
        counted = start_at + warmup
        end = counted + seconds
        while time.time() < end:
            t0_wall = time.time()
            if mode in ("ping", "healthz"):
                t0 = time.perf_counter()
                status, _ = client.request("GET", "/" + mode)
            else:
                body = json.dumps(
                    {
                        "kind": "rating",
                        "site": f"s{rng.randint(1, 20)}",
                        "criterion": rng.choice(["accessibility", "aesthetics"]),
                        "value": rng.randint(1, 4),
                    }
                )
                t0 = time.perf_counter()
                status, _ = client.request(
                    "POST",
                    "/survey/answer/",
                    body,
                    {
                        "Content-Type": "application/json",
                        "Accept": "application/json",
                        "X-CSRFToken": client.cookies.get("csrftoken", ""),
                        "Referer": "http://127.0.0.1/",
                    },
                )
            if t0_wall >= counted:
                latencies.append(time.perf_counter() - t0)
                if status != 200:
                    errors[0] += 1

    threads = [Thread(target=loop, args=(c, i)) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    queue.put((latencies, errors[0]))


def _measure(port: int, tokens: list[str], mode: str, seconds: float, processes: int, warmup: float = 3.0) -> dict:
    queue = mp.Queue()
    start_at = time.time() + 3.0 + 0.05 * len(tokens)
    chunks = [tokens[i::processes] for i in range(processes)]
    procs = [mp.Process(target=_worker, args=(port, c, mode, seconds, start_at, warmup, queue)) for c in chunks if c]
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    latencies = [x for lat, _ in results for x in lat]
    return {"latencies": latencies, "seconds": seconds, "errors": sum(e for _, e in results)}


def _pooled(measurements: list[dict]) -> dict:
    latencies = sorted(x for m in measurements for x in m["latencies"])
    seconds = sum(m["seconds"] for m in measurements)
    errors = sum(m["errors"] for m in measurements)
    return {"requests": len(latencies), "rps": len(latencies) / seconds, **percentiles(latencies), "errors": errors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=8, help="seconds of each measurement counted")
    parser.add_argument("--rounds", type=int, default=3, help="times each of the three is measured, in turn")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of each measurement not counted")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/civic_bench_autosave"),
    )
    args = parser.parse_args()
    tokens = prepare(args.database_url, args.clients)
    server, port = start_gunicorn(args.database_url, workers=args.workers, threads=args.threads)
    modes = ("ping", "healthz", "autosave")
    rounds: list[dict] = []
    try:
        # gunicorn listens before its workers have loaded Django: a measurement started then would
        # count their start-up against the first view measured.
        wait_serving(port)
        print(
            f"gunicorn gthread {args.workers} workers x {args.threads} threads; {args.clients} clients; "
            f"{args.rounds} rounds of {args.seconds:.0f} s per measurement; "
            f"PostgreSQL {args.database_url.rsplit('/', 1)[1]}"
        )
        for i in range(args.rounds):
            measured = {m: _measure(port, tokens, m, args.seconds, args.processes, args.warmup) for m in modes}
            rounds.append(measured)
            rps = {m: len(r["latencies"]) / r["seconds"] for m, r in measured.items()}
            print(
                f"round {i + 1}: trivial {rps['ping']:.0f} req/s, SELECT 1 {rps['healthz']:.0f} req/s, "
                f"autosave {rps['autosave']:.0f} req/s, ratio {rps['autosave'] / rps['ping']:.2f}",
                flush=True,
            )
    finally:
        stop(server)
    ping, health, save = (_pooled([r[m] for r in rounds]) for m in modes)
    for name, r in (("trivial view", ping), ("SELECT 1 view", health), ("autosave", save)):
        print(
            f"{name:>13}: {r['rps']:8.1f} req/s  p50 {r['p50_ms']:6.1f} ms  p95 {r['p95_ms']:6.1f} ms  "
            f"({r['requests']} requests, {r['errors']} non-200)"
        )
    print(f"autosave / trivial throughput: {save['rps'] / ping['rps']:.2f}  (target >= 0.50)")
    ratio = save["rps"] / health["rps"]
    print(f"autosave / SELECT-1 view throughput: {ratio:.2f}  (context: one database round trip)")
    print(f"autosave p95: {save['p95_ms']:.1f} ms  (target <= 100 ms)")


if __name__ == "__main__":
    main()
