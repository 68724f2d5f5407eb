"""Benchmark of the disagreement math alone (no database): compute_report on a large study.

5,000 participants × 20 sites × 4 rating criteria × 2 waves, 12 ranking criteria × 7 items,
6 overlapping groups, default 999 permutations and 999 bootstrap resamples.

    .venv/bin/python bench/analyze_math.py [--participants N] [--permutations P] [--bootstrap B]
        [--repeat R] [--components]

Prints figures only. Budget: end-to-end analyze ≤ 3× the PostgreSQL read of the ratings
(~0.5–1.0 s), so compute_report should take ~1.5–2 s on the 2-core machine. The machine is
shared, so use --repeat and read the best and the median. --components reruns compute_report
under cProfile and splits its time into the random-resampling parts and the rest (profiling
adds some overhead; use it for proportions).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics.measures import compute_report  # noqa: E402
from analytics.measures.synthetic import benchmark_study  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=5000)
    parser.add_argument("--permutations", type=int, default=999)
    parser.add_argument("--bootstrap", type=int, default=999)
    parser.add_argument("--no-tracemalloc", action="store_true", help="time without tracing")
    parser.add_argument("--repeat", type=int, default=1, help="untraced timings to add")
    parser.add_argument("--components", action="store_true", help="cProfile breakdown")
    args = parser.parse_args()

    start = time.perf_counter()
    study = benchmark_study(args.participants)
    generated = time.perf_counter() - start
    if not args.no_tracemalloc:
        tracemalloc.start()
    start = time.perf_counter()
    report = compute_report(study, n_permutations=args.permutations, n_bootstrap=args.bootstrap, seed=0)
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] if not args.no_tracemalloc else None
    tracemalloc.stop()
    size = len(json.dumps(report, allow_nan=False))
    maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"participants={args.participants} sites=20 criteria=4 waves=2 rankings=12x7 groups=6")
    print(f"permutations={args.permutations} bootstrap={args.bootstrap}")
    print(f"benchmark_study: {generated:.2f} s")
    print(f"compute_report: {elapsed:.2f} s")
    if peak is not None:
        print(f"peak traced memory (tracemalloc): {peak / 2**20:.1f} MiB")
    print(f"max RSS of the process: {maxrss_mb:.1f} MiB")
    print(f"report JSON: {size / 1024:.1f} KiB")
    kwargs = {"n_permutations": args.permutations, "n_bootstrap": args.bootstrap, "seed": 0}
    if args.repeat > 1:
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            compute_report(study, **kwargs)
            times.append(time.perf_counter() - start)
        print(
            f"compute_report x{args.repeat} (untraced): best {min(times):.2f} s, "
            f"median {statistics.median(times):.2f} s"
        )
    if args.components:
        _components(study, kwargs)


# Components of compute_report by the functions that do them (cumulative time of the outermost).
COMPONENTS = {
    "divergence permutation tests": ("divergence_tests",),
    "bootstrap intervals": ("bootstrap_cis",),
    "paired change (swap) tests": ("paired_changes",),
    "alpha (krippendorff)": ("alphas",),
    "rankings + consistency": ("_ranking_entry", "_consistency_entries"),
    "to_json": ("to_json",),
}


def _components(study, kwargs: dict) -> None:
    profile = cProfile.Profile()
    profile.enable()
    compute_report(study, **kwargs)
    profile.disable()
    stats = pstats.Stats(profile).stats
    cumulative: dict[str, float] = {}
    for (_, _, name), (_, _, _, cum, _) in stats.items():
        cumulative[name] = max(cumulative.get(name, 0.0), cum)
    total = cumulative.get("compute_report", 0.0)
    print(f"components (under cProfile, total {total:.2f} s):")
    accounted = 0.0
    for label, names in COMPONENTS.items():
        seconds = sum(cumulative.get(n, 0.0) for n in names)
        accounted += seconds
        print(f"  {label}: {seconds:.2f} s")
    print(f"  everything else: {max(total - accounted, 0.0):.2f} s")


if __name__ == "__main__":
    main()
