"""Opinion groups at Pol.is scale: Civic's pipeline against red-dwarf's Pol.is pipeline on the
same matrix, in the same run.

The matrix is 10,000 participants × 300 statements of Pol.is votes (−1 disagree, 0 pass,
+1 agree, 30% missing) with three planted opinion groups of 45/35/20%. Each pipeline runs in
its own child process on the same saved matrix, so their peak memories (ru_maxrss) do not
mix; red-dwarf gets its native input (a list of vote records, built before the clock starts)
and Civic its own (the participants × items array). Both search k over 2..6. Printed: both
times, their ratio, each peak memory, and the adjusted Rand index of planted-group recovery.

red-dwarf is not a dependency of Civic; install it in the virtual environment for this
benchmark only (`.venv/bin/pip install red-dwarf`). Without it, Civic's figures print alone.

    .venv/bin/python bench/opinion_groups.py [--participants 10000] [--items 300] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(which: str, path: str, seed: int) -> None:
    """Runs one pipeline on the saved matrix and prints its figures as JSON."""
    import numpy as np
    from sklearn.metrics import adjusted_rand_score

    saved = np.load(path)
    values, truth = saved["values"], saved["truth"]
    if which == "civic":
        from analytics.measures.opinion import cluster

        before = _rss_mib()
        start = time.perf_counter()
        found = cluster(values, seed=seed)
        elapsed = time.perf_counter() - start
        k, ari = found.k, adjusted_rand_score(truth[found.rows], found.labels)
    else:
        import warnings

        warnings.filterwarnings("ignore")
        from reddwarf.implementations.polis import run_pipeline

        rows, cols = np.nonzero(~np.isnan(values))
        votes = [
            {"participant_id": int(p), "statement_id": int(s), "vote": int(v), "modified": 0}
            for p, s, v in zip(rows, cols, values[rows, cols], strict=True)
        ]
        before = _rss_mib()
        start = time.perf_counter()
        result = run_pipeline(votes=votes, max_group_count=6, random_state=seed)
        elapsed = time.perf_counter() - start
        clustered = result.participants_df[result.participants_df["to_cluster"]]
        labels = clustered["cluster_id"].to_numpy(dtype=int)
        k = len(set(labels))
        ari = adjusted_rand_score(truth[clustered.index.to_numpy(dtype=int)], labels)
    print(json.dumps({"seconds": elapsed, "peak_mib": _rss_mib(), "before_mib": before, "k": k, "ari": ari}))


def _run(which: str, path: str, seed: int) -> dict | None:
    out = subprocess.run(
        [sys.executable, __file__, "--child", which, "--matrix", path, "--seed", str(seed)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    if out.returncode != 0:
        print(f"{which} failed:\n{out.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def _reddwarf_installed() -> bool:
    probe = subprocess.run([sys.executable, "-c", "import reddwarf"], capture_output=True)
    return probe.returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", choices=["civic", "reddwarf"], help=argparse.SUPPRESS)
    parser.add_argument("--matrix", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.matrix, args.seed)
        return

    import numpy as np

    from analytics.measures.opinion_synthetic import planted_opinions

    planted = planted_opinions(args.participants, args.items, votes=True, missing=0.3, seed=args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "matrix.npz")
        np.savez(path, values=planted.values, truth=planted.truth)
        civic = _run("civic", path, args.seed)
        reddwarf = _run("reddwarf", path, args.seed) if _reddwarf_installed() else None

    print(
        f"matrix: {args.participants} participants × {args.items} statements, votes −1/0/+1, 30% missing, "
        "3 planted groups (45/35/20%)"
    )
    if civic is None:
        sys.exit("Civic's pipeline failed")
    print(
        f"Civic opinion groups:  {civic['seconds']:7.2f} s  peak {civic['peak_mib']:7.1f} MiB "
        f"(input loaded: {civic['before_mib']:.1f})  k={civic['k']}  ARI={civic['ari']:.3f}"
    )
    if reddwarf is None:
        print("red-dwarf: not installed (.venv/bin/pip install red-dwarf) — Civic's figures only")
        return
    print(
        f"red-dwarf Pol.is:      {reddwarf['seconds']:7.2f} s  peak {reddwarf['peak_mib']:7.1f} MiB "
        f"(input loaded: {reddwarf['before_mib']:.1f})  k={reddwarf['k']}  ARI={reddwarf['ari']:.3f}"
    )
    print(f"ratio Civic / red-dwarf time: {civic['seconds'] / reddwarf['seconds']:.3f}")
    print("target: ratio < 1 with Civic's ARI ≥ red-dwarf's")


if __name__ == "__main__":
    main()
