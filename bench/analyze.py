"""End-to-end benchmark of `analyze` on PostgreSQL: the read alone vs the whole service path.

Builds (once; reused when present) a generated study of 5,000 participants × 20 sites ×
4 rating criteria × 2 waves (≈800k ratings) plus 12 ranking criteria over 7 images, in a
dedicated database, inserted with COPY (10% of ratings missing, so ≈720k rows). Then, in the same process:

  1. the end-to-end analysis through the service (request → claim → load → compute → save),
  2. the load alone (rows → StudyData),
  3. the raw read — the same ratings from PostgreSQL into numpy (a plain fetchall, and the
     server-packed bytea the loader uses),

and prints the times, their ratios and the peak memory (ru_maxrss). No assertions.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/civic_bench .venv/bin/python bench/analyze.py
        [--participants 5000] [--permutations 999] [--bootstrap 999] [--rebuild]

At city scale, `--participants 50000` (≈7.2 M ratings) with its own database, e.g.
DATABASE_URL=postgres://postgres@127.0.0.1:5432/civic_opinion_bench; building it takes a while
(the foreign-key checks run at commit), later runs reuse it.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civic.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/civic_bench")

SLUG = "bench-analyze"


def _ensure_database() -> None:
    """Creates the benchmark database if it does not exist yet, then migrates it."""
    import psycopg
    from django.conf import settings
    from django.core.management import call_command

    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        sys.exit("bench/analyze.py needs DATABASE_URL to point at PostgreSQL")
    admin = psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )
    with admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]])
        if exists.fetchone() is None:
            admin.execute(f'CREATE DATABASE "{db["NAME"]}"')
    call_command("migrate", verbosity=0)


def _copy(cursor, table: str, columns: list[str], rows) -> None:
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(str(v) for v in row) + "\n")
    buffer.seek(0)
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        while chunk := buffer.read(1 << 20):
            copy.write(chunk)


def _build(n_participants: int, rebuild: bool) -> None:
    import numpy as np
    from django.db import connection, transaction
    from django.utils import timezone

    from analytics.measures.synthetic import benchmark_study
    from surveys.models import Criterion, Group, Image, RankingSetItem, Site, Study, Wave

    existing = Study.objects.filter(slug=SLUG).first()
    if existing and not rebuild:
        print(f"reusing study {SLUG!r} ({existing.participants.count()} participants)")
        return
    if existing:
        existing.delete()
    start = time.perf_counter()
    data = benchmark_study(n_participants)
    with transaction.atomic():
        study = Study.objects.create(
            slug=SLUG,
            title_en="Benchmark",
            scale_min=data.scale_min,
            scale_max=data.scale_max,
            status="closed",
        )
        waves = [Wave.objects.create(study=study, name=w.name, order=i) for i, w in enumerate(data.waves)]
        groups = [
            Group.objects.create(study=study, code=g.replace(" ", "-"), label_en=g, order=i, target_count=900)
            for i, g in enumerate(data.group_names)
        ]
        sites = [Site.objects.create(study=study, code=c, order=i) for i, c in enumerate(data.site_codes)]
        rating_criteria = [
            Criterion.objects.create(study=study, name=r.criterion.replace(" ", "-"), kind="rating", order=i)
            for i, r in enumerate(data.waves[0].ratings)
        ]
        ranking_criteria = []
        for i, r in enumerate(data.waves[0].rankings):
            criterion = Criterion.objects.create(
                study=study, name=r.criterion.replace(" ", "-"), kind="ranking", order=i
            )
            for position, code in enumerate(r.item_codes):
                site_index = r.item_sites[position]
                image, _ = Image.objects.get_or_create(
                    study=study,
                    code=code,
                    defaults={
                        "alt_text_en": code,
                        "site": sites[site_index] if site_index is not None else None,
                    },
                )
                RankingSetItem.objects.create(criterion=criterion, image=image, position=position)
            ranking_criteria.append((criterion, r.item_codes))
        now = timezone.now().isoformat()
        with connection.cursor() as django_cursor:
            cursor = django_cursor.cursor
            _copy(
                cursor,
                "surveys_participant",
                ["study_id", "code", "language", "created_at", "order_seed"],
                ((study.pk, f"B{p:06d}", "en", now, p) for p in range(n_participants)),
            )
            ids = np.array(sorted(study.participants.values_list("id", flat=True)))
            p_idx, g_idx = np.nonzero(data.memberships)
            _copy(
                cursor,
                "surveys_participant_groups",
                ["participant_id", "group_id"],
                zip(ids[p_idx], [groups[g].pk for g in g_idx], strict=True),
            )
            for w, wave in enumerate(data.waves):
                for c, rating in enumerate(wave.ratings):
                    p, s = np.nonzero(~np.isnan(rating.values))
                    values = rating.values[p, s].astype(int)
                    site_ids = np.array([x.pk for x in sites])[s]
                    _copy(
                        cursor,
                        "surveys_rating",
                        [
                            "participant_id",
                            "wave_id",
                            "site_id",
                            "criterion_id",
                            "value",
                            "client_seq",
                            "updated_at",
                        ],
                        zip(
                            ids[p],
                            [waves[w].pk] * len(p),
                            site_ids,
                            [rating_criteria[c].pk] * len(p),
                            values,
                            [0] * len(p),
                            [now] * len(p),
                            strict=True,
                        ),
                    )
                for k, ranking in enumerate(wave.rankings):
                    criterion, codes = ranking_criteria[k]
                    rows = []
                    for p in np.nonzero(~np.isnan(ranking.ranks).any(axis=1))[0]:
                        order = [codes[i] for i in np.argsort(ranking.ranks[p])]
                        rows.append(
                            (
                                ids[p],
                                waves[w].pk,
                                criterion.pk,
                                "[" + ", ".join(f'"{c}"' for c in order) + "]",
                                0,
                                now,
                            )
                        )
                    _copy(
                        cursor,
                        "surveys_ranking",
                        [
                            "participant_id",
                            "wave_id",
                            "criterion_id",
                            '"order"',
                            "client_seq",
                            "updated_at",
                        ],
                        rows,
                    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE surveys_rating")
    print(f"built study {SLUG!r} in {time.perf_counter() - start:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=5000)
    parser.add_argument("--permutations", type=int, default=999)
    parser.add_argument("--bootstrap", type=int, default=999)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection

    from analytics.loading import ratings_read, study_data_load
    from analytics.services import analysis_request, analysis_run
    from surveys.models import Rating, Study, Wave

    _ensure_database()
    _build(args.participants, args.rebuild)
    study = Study.objects.get(slug=SLUG)
    wave_ids = list(Wave.objects.filter(study=study).values_list("id", flat=True))
    n_ratings = Rating.objects.filter(wave__study=study).count()

    import numpy as np

    # The process's peak memory is a high-water mark, so the analysis runs before the raw
    # fetchall read (whose row tuples would otherwise set the peak); one untimed packed read
    # first warms PostgreSQL's cache for it as the raw reads are warmed.
    ratings_read(wave_ids=wave_ids)

    # 1. End to end through the service, as the worker runs it. A fresh seed each time keeps
    # the fingerprint new, so the report is really computed and not reused.
    seed = int(time.time())
    load_start = os.getloadavg()[0]  # the machine is shared: the figures depend on its load
    start, cpu_start = time.perf_counter(), time.process_time()
    run = analysis_request(
        study=study,
        enqueue=False,
        n_permutations=args.permutations,
        n_bootstrap=args.bootstrap,
        seed=seed,
    )
    run = analysis_run(run_id=run.pk)
    end_to_end = time.perf_counter() - start
    end_to_end_cpu = time.process_time() - cpu_start
    if run.status != "done":
        sys.exit(f"analysis failed: {run.error}")
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    # 2. The load alone: rows → StudyData.
    start = time.perf_counter()
    study_data_load(study=study)
    load = time.perf_counter() - start

    # 3. Raw read: the same ratings from PostgreSQL into numpy, two ways (best of 3 each; of
    # 1 above 20,000 participants, where one fetchall takes a minute).
    placeholders = ", ".join(["%s"] * len(wave_ids))
    sql = (
        "SELECT participant_id, wave_id, site_id, criterion_id, value FROM surveys_rating "
        f"WHERE wave_id IN ({placeholders})"
    )
    fetch_times, copy_times = [], []
    for _ in range(3 if args.participants <= 20_000 else 1):
        start = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(sql, wave_ids)
            rows = np.array(cursor.fetchall(), dtype=np.int64)
        fetch_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        copied = ratings_read(wave_ids=wave_ids)
        copy_times.append(time.perf_counter() - start)
    assert len(rows) == len(copied) == n_ratings
    read_fetch, read_copy = min(fetch_times), min(copy_times)

    print(f"database: {connection.settings_dict['NAME']} (PostgreSQL)")
    print(
        f"study: {study.participants.count()} participants, {n_ratings} ratings, "
        f"{len(wave_ids)} waves, permutations={args.permutations} bootstrap={args.bootstrap}"
    )
    print(f"raw read, fetchall → numpy:     {read_fetch:7.2f} s")
    print(f"raw read, packed bytea → numpy: {read_copy:7.2f} s")
    print(f"load (rows → StudyData):        {load:7.2f} s")
    print(
        f"analyze end to end (service):   {end_to_end:7.2f} s (run {run.pk}, worker-side {run.duration_seconds:.2f} s)"
    )
    print(f"analyze, CPU time of this process: {end_to_end_cpu:4.2f} s (its share of a busy machine)")
    print(f"ratio analyze / fetchall read:  {end_to_end / read_fetch:7.2f}")
    print(f"ratio analyze / bytea read:     {end_to_end / read_copy:7.2f}")
    print(f"peak memory through analyze:    {maxrss:7.1f} MiB (ru_maxrss before the raw reads)")
    print(f"load average (1 min) at start / end: {load_start:.2f} / {os.getloadavg()[0]:.2f}")
    if args.participants >= 50_000:
        print(
            f"targets at city scale: analyze ≤ 60 s ({_verdict(end_to_end <= 60)}); "
            f"peak memory ≤ 2 GB ({_verdict(maxrss <= 2048)})"
        )
    else:
        print(
            f"targets: analyze ≤ 3× the read time ({_verdict(end_to_end <= 3 * read_fetch)}) "
            f"and ≤ 15 s ({_verdict(end_to_end <= 15)}); peak memory ≤ 1 GB ({_verdict(maxrss <= 1024)})"
        )


def _verdict(met: bool) -> str:
    return "met" if met else "missed"


if __name__ == "__main__":
    main()
