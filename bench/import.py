"""`import_responses` on a synthetic 1.4M-row file (~60 MB), against reading and parsing the same
file with the csv module.

Writes a synthetic long CSV into a temporary directory: 20,000 participants (each in two or three
of six groups), two waves; per participant and wave 15 streets × 2 rating criteria, a ranking of 3
photos and 2 priorities — 70 rows a participant, 1.4M rows. It also writes a copy whose row 10 is
bad, and a smaller file (3 streets: 440k rows, the same participants) to show that memory does not
follow the rows. The data are synthetic (seeded random values), not survey answers.

On a dedicated database (`civic_import_bench`, dropped and created; or a sqlite:/// URL), each in
a fresh child process, it times

  (a) the baseline: reading the file and parsing every row with `csv.reader`;
  (b) `import_responses` of the small file, then of the large one, into new studies —
      rows/s, wall time, peak RSS (resource.getrusage ru_maxrss);
  (c) the large file again with tracemalloc on (slower, so never timed): the peak of Python
      allocations;
  (d) the bad file: the time until it is rejected.

    python bench/import.py [--database-url postgres://postgres@127.0.0.1:5432/civic_import_bench]
                           [--participants 20000] [--no-trace]

Figures only, no assertions.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/civic_import_bench"
GROUPS = ["Aînés", "PMR", "LGBTQ+", "Parents", "Vélo", "Étud"]
WAVES = ["w1", "w2"]
CRITERIA = ["safety", "sûreté"]
IMAGES = ["ph A", "ph B", "ph C"]
BAD_ROW = 10


def _env(url: str) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "",
        "LOG_LEVEL": "ERROR",
        "DJANGO_SETTINGS_MODULE": "civic.settings",
    }


def generate(path: Path, participants: int, sites: int, seed: int = 1) -> int:
    """Writes the synthetic file; returns its number of rows (header excluded)."""
    rng = random.Random(seed)
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("participant,groups,wave,task,item,criterion,value\n")
        for p in range(participants):
            who = f"P{p:05d}"
            groups = ";".join(rng.sample(GROUPS, rng.choice((2, 3))))
            lines = []
            for wave in WAVES:
                for s in range(sites):
                    for crit in CRITERIA:
                        lines.append(f"{who},{groups},{wave},rating,s{s},{crit},{rng.randint(1, 5)}\n")
                for pos, image in enumerate(rng.sample(IMAGES, len(IMAGES)), start=1):
                    lines.append(f"{who},{groups},{wave},ranking,{image},beauty,{pos}\n")
                tokens = rng.randint(0, 10)
                lines.append(f"{who},{groups},{wave},priority,,{CRITERIA[0]},{tokens}\n")
                lines.append(f"{who},{groups},{wave},priority,,{CRITERIA[1]},{10 - tokens}\n")
            out.writelines(lines)
            rows += len(lines)
    return rows


def make_bad(good: Path, bad: Path) -> None:
    """The large file with a rating outside the scale at row BAD_ROW (row 1 is the header)."""
    with good.open(encoding="utf-8") as src, bad.open("w", encoding="utf-8", newline="") as out:
        for number, line in enumerate(src, start=1):
            if number == BAD_ROW:
                line = line.rsplit(",", 1)[0] + ",9\n"
            out.write(line)


def prepare(url: str) -> None:
    if url.startswith("sqlite"):
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    else:
        import psycopg

        name = url.rsplit("/", 1)[1]
        assert name.endswith("_bench"), "this benchmark only ever drops its own database (…_bench)"
        with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=_env(url), check=True)


def _child(args: list[str], url: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--database-url", url, "--child", *args],
        cwd=ROOT,
        env=_env(url),
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(kind: str, file: str, study: str, trace: bool) -> None:
    if kind == "parse":
        started = time.perf_counter()
        with open(file, encoding="utf-8", newline="") as f:
            rows = sum(1 for _ in csv.reader(f)) - 1
        print(json.dumps({"rows": rows, "wall_s": time.perf_counter() - started, "rss_mb": _rss_mb()}))
        return
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from surveys.importing import ImportRejected, responses_import

    rss_before = _rss_mb()
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    result: dict = {}
    try:
        report = responses_import(path=file, study_slug=study, create=True, scale_min=1, scale_max=5)
        result["rows"] = report.rows
    except ImportRejected as rejected:
        result["rejected"] = rejected.errors[:3]
        result["stopped_at"] = rejected.stopped_at
    result["wall_s"] = time.perf_counter() - started
    if trace:
        result["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    result |= {"rss_mb": _rss_mb(), "rss_after_setup_mb": rss_before}
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--participants", type=int, default=20_000)
    parser.add_argument("--no-trace", action="store_true", help="skip the tracemalloc run")
    parser.add_argument("--child", nargs=4, metavar=("KIND", "FILE", "STUDY", "TRACE"))
    args = parser.parse_args()
    if args.child:
        kind, file, study, trace = args.child
        child(kind, file, study, trace == "1")
        return
    url = args.database_url
    with tempfile.TemporaryDirectory(prefix="civic-bench-import-") as tmp:
        large, small, bad = Path(tmp, "large.csv"), Path(tmp, "small.csv"), Path(tmp, "bad.csv")
        started = time.perf_counter()
        n_large = generate(large, args.participants, sites=15)
        n_small = generate(small, args.participants, sites=3)
        make_bad(large, bad)
        size_mb = large.stat().st_size / 2**20
        print(
            f"synthetic files: {n_large:,} rows ({size_mb:.1f} MB) and {n_small:,} rows "
            f"({small.stat().st_size / 2**20:.1f} MB), {args.participants:,} participants "
            f"(written in {time.perf_counter() - started:.1f} s)"
        )
        prepare(url)
        print(f"database: {url.rsplit('/', 1)[1]}")
        parse = _child(["parse", str(large), "-", "0"], url)
        print(
            f"baseline, csv.reader over every row: {parse['wall_s']:.2f} s "
            f"({parse['rows'] / parse['wall_s']:,.0f} rows/s), peak RSS {parse['rss_mb']:.0f} MB"
        )
        figures = {}
        for label, path, rows in (("small", small, n_small), ("large", large, n_large)):
            run = _child(["import", str(path), f"bench-{label}", "0"], url)
            assert run.get("rows") == rows, run
            figures[label] = run
            print(
                f"import {rows:>9,} rows: {run['wall_s']:7.1f} s, {rows / run['wall_s']:>7,.0f} rows/s, "
                f"{run['wall_s'] / parse['wall_s']:.1f}× the baseline; peak RSS {run['rss_mb']:.0f} MB "
                f"({run['rss_mb'] - run['rss_after_setup_mb']:.0f} MB over Django's start-up)"
            )
        ratio = figures["large"]["rss_mb"] / figures["small"]["rss_mb"]
        print(f"peak RSS large / small: {ratio:.2f} for {n_large / n_small:.1f}× the rows")
        if not args.no_trace:
            run = _child(["import", str(large), "bench-traced", "1"], url)
            print(f"tracemalloc peak of Python allocations, {n_large:,} rows: {run['tracemalloc_peak_mb']:.1f} MB")
        run = _child(["import", str(bad), "bench-large", "0"], url)
        assert run.get("rejected"), run
        print(
            f"bad row {BAD_ROW} of {n_large:,}: rejected in {run['wall_s']:.3f} s "
            f"({run['wall_s'] / parse['wall_s']:.4f}× the baseline; reading stopped at row {run['stopped_at']}): "
            f"{run['rejected'][0]}"
        )


if __name__ == "__main__":
    main()
