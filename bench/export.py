"""Anonymised export of 1M ratings against a raw PostgreSQL COPY of the same rows.

Builds a dedicated database (`civic_bench_export`), migrates it, and fills two studies by
COPY: one with 250k ratings and one with 1M (same sites, criteria and waves; four times the
participants). For each, in fresh child processes, it times

  (a) `COPY (SELECT participant code, wave, site, criterion, value … same rows …) TO STDOUT`
      read to the end by psycopg, and
  (b) `export_build` — the service behind the Celery task and the command — writing the zip,

and reports wall time, peak RSS (resource.getrusage ru_maxrss) and, in a separate run,
the peak of Python allocations (tracemalloc, which slows Python down, so it is never timed).
Targets: export ≤ 3× the COPY time; memory flat from 250k to 1M rows.

    python bench/export.py [--database-url postgres://postgres@127.0.0.1:5432/civic_bench_export]
                           [--rows 1000000] [--small 250000] [--repeat 2]

Figures only, no assertions.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/civic_bench_export"
SITES, CRITERIA, WAVES, GROUPS = 50, 5, 2, 6
PER_PARTICIPANT = SITES * CRITERIA * WAVES


def _env(url: str) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "",
        "PRIVATE_ROOT": "/tmp/civic_bench_export_private",
        "LOG_LEVEL": "ERROR",
    }


def _django(url: str) -> None:
    os.environ.update(_env(url))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civic.settings")
    import django

    django.setup()


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# --- set-up ---------------------------------------------------------------------------------


def prepare(url: str, sizes: list[int]) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    assert name == "civic_bench_export", "this benchmark only ever drops its own database"
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=_env(url), check=True)
    subprocess.run(
        [sys.executable, __file__, "--database-url", url, "--child", "fill", "--sizes", ",".join(map(str, sizes))],
        check=True,
    )


def fill(url: str, sizes: list[int]) -> None:
    """Small tables through the ORM, the big ones by COPY."""
    _django(url)
    from django.db import connection
    from django.utils import timezone

    from surveys.models import Criterion, Group, Participant, Site, Study, Wave

    started = time.perf_counter()
    for n_rows in sizes:
        n_people = n_rows // PER_PARTICIPANT
        study = Study.objects.create(
            slug=f"bench-{n_rows}", title_en=f"Bench {n_rows}", scale_min=1, scale_max=5, status="closed"
        )
        waves = [Wave.objects.create(study=study, name=f"wave-{i}", order=i) for i in range(WAVES)]
        groups = [
            Group.objects.create(study=study, code=f"g{i}", label_en=f"Group {i}", order=i) for i in range(GROUPS)
        ]
        sites = [Site.objects.create(study=study, code=f"s{i:03d}", name=f"Street {i}", order=i) for i in range(SITES)]
        criteria = [
            Criterion.objects.create(study=study, name=f"c{i}", kind="rating", label_en=f"Criterion {i}", order=i)
            for i in range(CRITERIA)
        ]
        now = timezone.now()
        Participant.objects.bulk_create(
            [Participant(study=study, code=f"P{n_rows:07d}{i:06d}", consented_at=now) for i in range(n_people)],
            batch_size=5000,
        )
        people = list(Participant.objects.filter(study=study).order_by("id").values_list("id", flat=True))
        connection.ensure_connection()
        raw = connection.connection
        with raw.cursor() as cursor:
            with cursor.copy("COPY surveys_participant_groups (participant_id, group_id) FROM STDIN") as copy:
                for i, pid in enumerate(people):
                    # Overlapping memberships with some rare combinations, so k has work to do.
                    for j, g in enumerate(groups):
                        if (i * (j + 3)) % (7 + j) == 0:
                            copy.write_row((pid, g.pk))
            columns = "participant_id, wave_id, site_id, criterion_id, value, client_seq, updated_at"
            with cursor.copy(f"COPY surveys_rating ({columns}) FROM STDIN") as copy:
                for i, pid in enumerate(people):
                    for w in waves:
                        for s in sites:
                            for c in criteria:
                                copy.write_row(
                                    (pid, w.pk, s.pk, c.pk, 1 + (i * 7 + s.pk * 3 + c.pk + w.pk) % 5, 0, now)
                                )
        raw.commit() if not raw.autocommit else None
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(f"filled {sizes} in {time.perf_counter() - started:.1f} s", file=sys.stderr)


# --- measured children ----------------------------------------------------------------------

RAW_COPY = """
COPY (
    SELECT p.code, w.name, 'rating', s.code, c.name, r.value
    FROM surveys_rating r
    JOIN surveys_participant p ON p.id = r.participant_id
    JOIN surveys_wave w ON w.id = r.wave_id
    JOIN surveys_site s ON s.id = r.site_id
    JOIN surveys_criterion c ON c.id = r.criterion_id
    WHERE p.study_id = %s AND p.consented_at IS NOT NULL
) TO STDOUT (FORMAT csv)
"""


def run_copy(url: str, slug: str, trace: bool) -> dict:
    _django(url)
    from django.db import connection

    from surveys.models import Study

    study = Study.objects.get(slug=slug)
    connection.ensure_connection()
    baseline = _rss_mb()
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    n_bytes = 0
    with connection.connection.cursor() as cursor, cursor.copy(RAW_COPY, (study.pk,)) as copy:
        for block in copy:
            n_bytes += len(block)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / 2**20 if trace else None
    return {"seconds": seconds, "bytes": n_bytes, "rss_mb": _rss_mb(), "rss_before_mb": baseline, "py_peak_mb": peak}


def run_export(url: str, slug: str, trace: bool) -> dict:
    _django(url)
    from django.db import connection

    from exports.services import export_build, export_request
    from surveys.models import Study

    study = Study.objects.get(slug=slug)
    connection.ensure_connection()
    job = export_request(study=study, user=None, enqueue=False, via="bench")
    baseline = _rss_mb()
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    job = export_build(job_id=job.pk)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / 2**20 if trace else None
    assert job.status == "done", job.error
    result = {
        "seconds": seconds,
        "zip_bytes": job.size,
        "rows": job.summary["rows"]["rating"],
        "rss_mb": _rss_mb(),
        "rss_before_mb": baseline,
        "py_peak_mb": peak,
        "affected": job.summary["protection"]["affected"],
    }
    job.path.unlink(missing_ok=True)
    return result


def _child(url: str, kind: str, slug: str, trace: bool) -> dict:
    args = [sys.executable, __file__, "--database-url", url, "--child", kind, "--slug", slug]
    out = subprocess.run(args + (["--trace"] if trace else []), check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=250_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--skip-prepare", action="store_true")
    parser.add_argument("--child", choices=["fill", "copy", "export"])
    parser.add_argument("--slug")
    parser.add_argument("--sizes")
    parser.add_argument("--trace", action="store_true")
    args = parser.parse_args()
    url = args.database_url
    if args.child == "fill":
        fill(url, [int(s) for s in args.sizes.split(",")])
        return
    if args.child:
        runner = run_copy if args.child == "copy" else run_export
        print(json.dumps(runner(url, args.slug, args.trace)))
        return

    sizes = [args.small, args.rows]
    if not args.skip_prepare:
        prepare(url, sizes)
    results = {}
    for n in sizes:
        slug = f"bench-{n}"
        copies = [_child(url, "copy", slug, False) for _ in range(args.repeat)]
        exports = [_child(url, "export", slug, False) for _ in range(args.repeat)]
        results[n] = {
            "copy": min(copies, key=lambda r: r["seconds"]),
            "export": min(exports, key=lambda r: r["seconds"]),
            "copy_trace": _child(url, "copy", slug, True),
            "export_trace": _child(url, "export", slug, True),
        }
    out = io.StringIO()
    out.write(
        f"{'ratings':>9} | {'COPY s':>7} | {'export s':>8} | {'ratio':>5} | "
        f"{'COPY RSS':>8} | {'export RSS':>10} | {'export RSS Δ':>12} | "
        f"{'COPY py peak':>12} | {'export py peak':>14} | {'zip MB':>6}\n"
    )
    for r in results.values():
        c, e = r["copy"], r["export"]
        out.write(
            f"{e['rows']:>9} | {c['seconds']:>7.2f} | {e['seconds']:>8.2f} | "
            f"{e['seconds'] / c['seconds']:>5.2f} | {c['rss_mb']:>6.0f}MB | {e['rss_mb']:>8.0f}MB | "
            f"{e['rss_mb'] - e['rss_before_mb']:>10.1f}MB | "
            f"{r['copy_trace']['py_peak_mb']:>10.2f}MB | {r['export_trace']['py_peak_mb']:>12.2f}MB | "
            f"{e['zip_bytes'] / 2**20:>6.1f}\n"
        )
    small, large = results[sizes[0]], results[sizes[1]]
    out.write(
        f"\nexport / COPY time at {sizes[1]:,} ratings: "
        f"{large['export']['seconds'] / large['copy']['seconds']:.2f}× (target ≤ 3×)\n"
        f"export peak RSS {sizes[0]:,} → {sizes[1]:,}: {small['export']['rss_mb']:.0f} → "
        f"{large['export']['rss_mb']:.0f} MB; Python allocation peak "
        f"{small['export_trace']['py_peak_mb']:.2f} → {large['export_trace']['py_peak_mb']:.2f} MB "
        f"for {sizes[1] // sizes[0]}× the rows (target: flat)\n"
        f"COPY bytes at {sizes[1]:,}: {large['copy']['bytes'] / 2**20:.1f} MB; "
        f"participants generalised or suppressed: {large['export']['affected']}\n"
    )
    print(out.getvalue())


if __name__ == "__main__":
    main()
