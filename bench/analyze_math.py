"""Benchmark of the disagreement math alone (no database): compute_report on a large study.

5,000 participants × 20 sites × 4 rating criteria × 2 waves, 12 ranking criteria × 7 items,
6 overlapping groups, default 999 permutations and 999 bootstrap resamples.

    .venv/bin/python bench/analyze_math.py [--participants N] [--permutations P] [--bootstrap B]

Prints figures only; the end-to-end budget (with the DB read) is 15 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics.measures import compute_report, generate_study  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=5000)
    parser.add_argument("--permutations", type=int, default=999)
    parser.add_argument("--bootstrap", type=int, default=999)
    parser.add_argument("--no-tracemalloc", action="store_true", help="time without tracing")
    args = parser.parse_args()

    start = time.perf_counter()
    study = generate_study(
        args.participants,
        20,
        4,
        6,
        n_waves=2,
        effects={(0, 0): 0.4, (1, 1): -0.3, (2, 2): 0.2},
        missing=0.1,
        n_ranking_criteria=12,
        n_items=7,
        seed=1,
    )
    generated = time.perf_counter() - start
    if not args.no_tracemalloc:
        tracemalloc.start()
    start = time.perf_counter()
    report = compute_report(
        study, n_permutations=args.permutations, n_bootstrap=args.bootstrap, seed=0
    )
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] if not args.no_tracemalloc else None
    tracemalloc.stop()
    size = len(json.dumps(report, allow_nan=False))
    maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"participants={args.participants} sites=20 criteria=4 waves=2 rankings=12x7 groups=6")
    print(f"permutations={args.permutations} bootstrap={args.bootstrap}")
    print(f"generate_study: {generated:.2f} s")
    print(f"compute_report: {elapsed:.2f} s")
    if peak is not None:
        print(f"peak traced memory (tracemalloc): {peak / 2**20:.1f} MiB")
    print(f"max RSS of the process: {maxrss_mb:.1f} MiB")
    print(f"report JSON: {size / 1024:.1f} KiB")


if __name__ == "__main__":
    main()
