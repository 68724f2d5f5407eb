"""Anonymised exports: request one, build it, hand it out, delete it — and the audit log.

The flow mirrors analysis runs: `export_request` writes a pending ExportJob and publishes
`export_build_task` after the transaction commits. The worker calls `export_build`, which
claims the job with a conditional UPDATE and streams the study's answers from the database
into a zip under `settings.PRIVATE_ROOT`. The management command calls the same function.

Rows are never all in memory: on PostgreSQL the ratings travel as `COPY … TO STDOUT (FORMAT
csv)` whose blocks go straight into the zip entry; elsewhere a chunked `.iterator()` feeds a
csv writer. Only per-participant lookups (pseudonym and groups) are held, which grow with the
number of participants, not answers.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import secrets
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.http import Http404
from django.utils import timezone

from civic.csv import csv_safe
from civic.jobs import job_claim, job_publish, job_stale_ids
from surveys.models import (
    Comment,
    Criterion,
    Group,
    Image,
    Participant,
    Priority,
    Ranking,
    RankingSetItem,
    Rating,
    Site,
    Study,
    Wave,
)
from surveys.permissions import RESEARCHER, study_get_for_user

from .anonymity import memberships_generalise, pseudonyms_make
from .documents import (
    COMMENTS_COLUMNS,
    RESPONSES_COLUMNS,
    StudyDescription,
    codebook_md,
    codebook_rows,
    csv_text,
    readme_md,
)
from .models import AuditLog, ExportJob

logger = logging.getLogger(__name__)

EXPORT_TTL = timedelta(hours=24)
CHUNK_SIZE = 5000
COPY_BUFFER = 1 << 20
# Level 1 deflate is several times faster than the default 6 and still shrinks the CSV ~5×.
COMPRESS_LEVEL = 1
PROGRESS_INTERVAL = 0.5
SWEEP_GRACE = timedelta(seconds=10)
STALE_RUNNING = timedelta(seconds=getattr(settings, "CELERY_TASK_TIME_LIMIT", 660) + 60)

ERROR_NOT_FOUND = "No such export."
ERROR_GONE = "This export has expired or was deleted. Request a new one."

Action = AuditLog.Action


# Audit log -------------------------------------------------------------------------------


def audit_record(
    *,
    action: str,
    actor=None,
    study: Study | None = None,
    study_slug: str = "",
    target: str = "",
    details: dict | None = None,
) -> AuditLog:
    """Appends one entry to the audit log. Other apps call this for role changes and
    withdrawals too (actions `role.changed`, `participant.withdrawn`)."""
    if actor is not None and not actor.is_authenticated:
        actor = None
    return AuditLog.objects.create(
        actor=actor,
        actor_name=actor.get_username() if actor is not None else "",
        action=action,
        study=study,
        study_slug=study.slug if study is not None else study_slug[:50],
        target=target[:100],
        details=details or {},
    )


def _target(job_id) -> str:
    return f"export:{job_id}"


# Requesting and running ------------------------------------------------------------------


def export_request(*, study: Study, user, enqueue: bool = True, via: str = "web") -> ExportJob:
    """Creates a pending export and publishes its task once the transaction commits.

    A user's unfinished export of the same study is returned instead of a second one, so a
    double click builds one zip. `enqueue=False` is for the command, which builds in-process.
    """
    requester = user if user is not None and user.is_authenticated else None
    if requester is not None:
        active = ExportJob.objects.active().filter(study=study, requested_by=requester).first()
        if active is not None:
            return active
    with transaction.atomic():
        job = ExportJob.objects.create(study=study, requested_by=requester)
        audit_record(
            action=Action.EXPORT_REQUESTED,
            actor=requester,
            study=study,
            target=_target(job.pk),
            details={"via": via},
        )
        if enqueue:
            transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def _enqueue(job_id: int) -> bool:
    from .tasks import export_build_task

    return job_publish(ExportJob, job_id, export_build_task, job_id=job_id)


def _claim(job_id: int) -> bool:
    return job_claim(ExportJob, job_id, stale_running=STALE_RUNNING, progress=0)


def _progress_writer(job_id: int, total: int) -> Callable[[int], None]:
    """A callback taking rows written so far; writes a percentage (at most 99 until the zip
    is closed) through queryset.update, at most every PROGRESS_INTERVAL seconds."""
    state = {"at": 0.0, "percent": -1}

    def write(done: int) -> None:
        percent = min(99, done * 100 // max(total, 1))
        now = time.monotonic()
        if percent == state["percent"] or now - state["at"] < PROGRESS_INTERVAL:
            return
        state.update(at=now, percent=percent)
        ExportJob.objects.filter(pk=job_id, status=ExportJob.Status.RUNNING).update(progress=percent)

    return write


def export_build(*, job_id: int) -> ExportJob:
    """Builds the job's zip unless another call already claimed or finished it.

    Safe to call twice. A failure is recorded on the job (status failed, error) and in the
    audit log rather than raised, so an eager task inside a request never becomes a 500."""
    if not _claim(job_id):
        return ExportJob.objects.get(pk=job_id)
    ExportJob.objects.filter(pk=job_id).update(attempts=ExportJob.objects.get(pk=job_id).attempts + 1)
    job = ExportJob.objects.select_related("study", "requested_by").get(pk=job_id)
    root = Path(settings.PRIVATE_ROOT)
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = f"{secrets.token_hex(16)}.zip"
    partial = root / f"{name}.part"
    try:
        summary = export_write(study=job.study, path=partial, progress=lambda total: _progress_writer(job_id, total))
        os.replace(partial, root / name)
        now = timezone.now()
        ExportJob.objects.filter(pk=job_id, status=ExportJob.Status.RUNNING).update(
            status=ExportJob.Status.DONE,
            progress=100,
            file_name=name,
            size=(root / name).stat().st_size,
            summary=summary,
            finished_at=now,
            expires_at=now + EXPORT_TTL,
        )
        audit_record(
            action=Action.EXPORT_BUILT,
            actor=job.requested_by,
            study=job.study,
            target=_target(job_id),
            details={"rows": summary["rows"], "participants": summary["participants"]},
        )
    except Exception as exc:
        logger.exception("Export %s failed", job_id)
        partial.unlink(missing_ok=True)
        ExportJob.objects.filter(pk=job_id, status=ExportJob.Status.RUNNING).update(
            status=ExportJob.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        audit_record(
            action=Action.EXPORT_FAILED,
            actor=job.requested_by,
            study=job.study,
            target=_target(job_id),
            details={"error": type(exc).__name__},
        )
    job.refresh_from_db()
    return job


def export_sweep(*, now=None) -> dict:
    """Publishes exports the broker never received or whose worker died, and deletes the
    files of expired exports. Run by the beat sweep (`analytics.tasks.pending_jobs_sweep_task`)."""
    now = now or timezone.now()
    stale = job_stale_ids(ExportJob, grace=SWEEP_GRACE, stale_queued=None, stale_running=STALE_RUNNING, now=now)
    published = sum(_enqueue(pk) for pk in stale)
    expired = ExportJob.objects.filter(expires_at__lte=now, deleted_at__isnull=True).exclude(file_name="")
    purged = 0
    for job in expired.select_related("study")[:500]:
        export_delete(job=job, actor=None, reason="expired")
        purged += 1
    return {"published": published, "purged": purged}


def export_delete(*, job: ExportJob, actor=None, reason: str = "") -> ExportJob:
    """Deletes the export's file and marks it deleted; the row stays as the record."""
    if job.path is not None:
        job.path.unlink(missing_ok=True)
    ExportJob.objects.filter(pk=job.pk, deleted_at__isnull=True).update(deleted_at=timezone.now())
    audit_record(
        action=Action.EXPORT_DELETED,
        actor=actor,
        study=job.study,
        target=_target(job.pk),
        details={"reason": reason},
    )
    job.refresh_from_db()
    return job


# Downloading -----------------------------------------------------------------------------


class DownloadDenied(Exception):
    """Why a download was refused; `status` is 401 (no session), 404 or 410."""

    def __init__(self, status: int, reason: str):
        self.status = status
        self.reason = reason
        super().__init__(reason)


def export_download_authorise(*, user, slug: str, job_id: int) -> ExportJob:
    """Returns the job if `user` may download it now: they requested it, they still hold a
    researcher role on the study, and it is built, not expired and not deleted.

    Anyone else learns nothing (404), whether the export exists or not; every refusal is
    written to the audit log."""
    actor = user if user.is_authenticated else None
    try:
        if actor is None:
            raise DownloadDenied(401, "no session")
        try:
            study = study_get_for_user(user, slug, RESEARCHER)
        except Http404:
            raise DownloadDenied(404, "no researcher role on the study") from None
        job = ExportJob.objects.filter(pk=job_id, study=study, requested_by=user).first()
        if job is None:
            raise DownloadDenied(404, "not the requester")
        if job.deleted_at is not None:
            raise DownloadDenied(410, "deleted")
        if job.is_expired:
            raise DownloadDenied(410, "expired")
        if job.status != ExportJob.Status.DONE:
            raise DownloadDenied(404, "not built")
        if job.path is None or not job.path.exists():
            raise DownloadDenied(410, "file missing")
    except DownloadDenied as denied:
        study = Study.objects.filter(slug=slug).first()
        audit_record(
            action=Action.EXPORT_DENIED,
            actor=actor,
            study=study,
            study_slug=slug,
            target=_target(job_id),
            details={"reason": denied.reason, "status": denied.status},
        )
        raise
    audit_record(action=Action.EXPORT_DOWNLOADED, actor=user, study=study, target=_target(job_id))
    return job


def export_download_name(job: ExportJob) -> str:
    return f"{job.study.slug}-anonymised-{job.pk}-{job.finished_at:%Y-%m-%d}.zip"


# Writing the zip -------------------------------------------------------------------------


@dataclass
class _Lookups:
    """Small per-study tables, already neutralised for CSV."""

    waves: list[tuple[int, str]]
    sites: dict[int, str]
    rating_criteria: dict[int, str]
    ranking_criteria: dict[int, str]
    ranking_sets: dict[int, list[str]]
    image_codes: dict[str, str]


def export_write(*, study: Study, path: Path, progress: Callable[[int], Callable] | None = None) -> dict:
    """Writes the anonymised zip of `study` to `path` and returns its summary (what was
    exported, generalised and suppressed). `progress(total)` returns a callback that is
    given the number of rows written so far."""
    description, lookups = _describe(study)
    people, generalisation = _participants(study)
    total = _rows_estimate(len(people), lookups)
    report = progress(total) if progress else (lambda done: None)

    counts = {"rating": 0, "ranking": 0, "priority": 0, "comment": 0}
    skipped = {"ranking": 0, "priority": 0}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL) as zf:
        with zf.open("responses.csv", "w", force_zip64=True) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            writer = csv.writer(text, lineterminator="\n")
            writer.writerow([csv_safe(name) for name, _ in RESPONSES_COLUMNS])
            for wave_id, wave_name in lookups.waves:
                done = sum(counts.values())
                counts["rating"] += _ratings_write(
                    raw,
                    text,
                    writer,
                    wave_id,
                    wave_name,
                    people,
                    lookups,
                    lambda n, base=done: report(base + n),
                )
                counts["ranking"] += _rankings_write(writer, wave_id, wave_name, people, lookups, skipped)
                counts["priority"] += _priorities_write(
                    writer, wave_id, wave_name, people, lookups, study.priority_tokens, skipped
                )
                report(sum(counts.values()))
            text.flush()
            text.detach()
        if study.comments_reviewed:
            counts["comment"] = _comments_write(zf, lookups, people)
        summary = _summary(study, description, generalisation, people, lookups, counts, skipped)
        _write_member(zf, "codebook.csv", csv_text(codebook_rows(description)))
        _write_member(zf, "codebook.md", codebook_md(description))
        _write_member(zf, "README.md", readme_md(description, summary))
        _write_member(
            zf,
            "analysis_report.json",
            json.dumps(_analysis_report(study, generalisation.k), ensure_ascii=False, indent=1),
        )
    summary["analysis_report"] = summary.get("analysis_report", False)
    return summary


def _write_member(zf: zipfile.ZipFile, name: str, text: str) -> None:
    """Writes a small file into the zip with a fixed date, like the streamed members: the
    archive itself then carries no time of day either."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, text)


def _rows_estimate(n_people: int, lookups: _Lookups) -> int:
    """The most rows responses.csv can hold (everyone answered everything), for the progress
    bar; counting the real rows would cost a scan of the ratings before the export starts."""
    per_wave = (
        len(lookups.sites) * len(lookups.rating_criteria)
        + sum(len(codes) for codes in lookups.ranking_sets.values())
        + len(lookups.rating_criteria)
    )
    return n_people * per_wave * len(lookups.waves)


def _describe(study: Study) -> tuple[StudyDescription, _Lookups]:
    waves = list(Wave.objects.filter(study=study).order_by("order", "id").values("id", "name", "order"))
    groups = list(
        Group.objects.filter(study=study)
        .order_by("order", "code")
        .values("code", "label_en", "label_fr", "description_en", "description_fr")
    )
    criteria = list(
        Criterion.objects.filter(study=study)
        .order_by("kind", "order", "name")
        .values("id", "name", "kind", "label_en", "label_fr", "description_en", "description_fr")
    )
    sites = list(Site.objects.filter(study=study).order_by("order", "code").values("id", "code", "name"))
    images = list(
        Image.objects.filter(study=study).order_by("code").values("code", "alt_text_en", "alt_text_fr", "site__code")
    )
    ranking_sets: dict[int, list[str]] = {}
    for criterion_id, code in (
        RankingSetItem.objects.filter(criterion__study=study)
        .order_by("criterion_id", "position", "id")
        .values_list("criterion_id", "image__code")
    ):
        ranking_sets.setdefault(criterion_id, []).append(code)
    description = StudyDescription(
        slug=study.slug,
        title_en=study.title_en,
        title_fr=study.title_fr,
        description_en=study.description_en,
        description_fr=study.description_fr,
        scale_min=study.scale_min,
        scale_max=study.scale_max,
        scale_labels_en=list(study.scale_labels_en or []),
        scale_labels_fr=list(study.scale_labels_fr or []),
        priority_tokens=study.priority_tokens,
        k=study.k_anonymity,
        comments_included=study.comments_reviewed,
        waves=[{"name": w["name"], "order": w["order"]} for w in waves],
        groups=groups,
        criteria=criteria,
        sites=sites,
        images=[
            {
                "code": i["code"],
                "alt_text_en": i["alt_text_en"],
                "alt_text_fr": i["alt_text_fr"],
                "site": i["site__code"],
            }
            for i in images
        ],
    )
    lookups = _Lookups(
        waves=[(w["id"], csv_safe(w["name"])) for w in waves],
        sites={s["id"]: csv_safe(s["code"]) for s in sites},
        rating_criteria={c["id"]: csv_safe(c["name"]) for c in criteria if c["kind"] == "rating"},
        ranking_criteria={c["id"]: csv_safe(c["name"]) for c in criteria if c["kind"] == "ranking"},
        ranking_sets=ranking_sets,
        image_codes={code: csv_safe(code) for codes in ranking_sets.values() for code in codes},
    )
    return description, lookups


def _participants(study: Study):
    """Consenting participants as {id: (pseudonym, groups cell)}, after small-cell protection.

    Withdrawn participants no longer exist; participants who never consented are left out."""
    codes = dict(
        Participant.objects.filter(study=study, consented_at__isnull=False).order_by("id").values_list("id", "code")
    )
    memberships: dict[int, set[str]] = {pid: set() for pid in codes}
    for pid, group_code in Participant.groups.through.objects.filter(participant_id__in=list(codes)).values_list(
        "participant_id", "group__code"
    ):
        memberships[pid].add(group_code)
    generalisation = memberships_generalise(memberships, study.k_anonymity)
    pseudonyms = pseudonyms_make(codes.values())
    people = {
        pid: (pseudonyms[code], csv_safe(";".join(sorted(generalisation.memberships[pid]))))
        for pid, code in codes.items()
    }
    return people, generalisation


def _ratings_write(raw, text, writer, wave_id, wave_name, people, lookups, report) -> int:
    if connection.vendor == "postgresql":
        text.flush()
        return _ratings_copy(raw, wave_id, wave_name, people, lookups, report)
    written = 0
    rows = (
        Rating.objects.filter(wave_id=wave_id, participant__consented_at__isnull=False)
        .values_list("participant_id", "site_id", "criterion_id", "value")
        .iterator(chunk_size=CHUNK_SIZE)
    )
    for pid, site_id, criterion_id, value in rows:
        who = people.get(pid)
        site = lookups.sites.get(site_id)
        criterion = lookups.rating_criteria.get(criterion_id)
        if who is None or site is None or criterion is None:
            continue
        writer.writerow((who[0], who[1], wave_name, "rating", site, criterion, value))
        written += 1
        if written % CHUNK_SIZE == 0:
            report(written)
    return written


_RATINGS_COPY = """
COPY (
    SELECT m.code, m.groups, %s::text, 'rating', s.code, %s::text, r.value
    FROM surveys_rating r
    JOIN unnest(%s::bigint[], %s::text[], %s::text[]) AS m(id, code, groups)
        ON m.id = r.participant_id
    JOIN unnest(%s::bigint[], %s::text[]) AS s(id, code) ON s.id = r.site_id
    WHERE r.wave_id = %s AND r.criterion_id = %s
) TO STDOUT (FORMAT csv)
"""


def _ratings_copy(raw, wave_id, wave_name, people, lookups, report) -> int:
    """PostgreSQL does the joins and the CSV quoting; its blocks go straight into the zip.

    One COPY per criterion (each served by the (wave, criterion) index) gives the progress
    bar steps: nothing else may run on the connection while a COPY is open, so progress is
    written between statements. The pseudonyms travel as query parameters and exist only in
    these statements."""
    people_ids = list(people)
    pseudonyms = [p[0] for p in people.values()]
    groups = [p[1] for p in people.values()]
    site_ids, site_codes = list(lookups.sites), list(lookups.sites.values())
    written = 0
    buffer = bytearray()
    connection.ensure_connection()
    for criterion_id, criterion_name in lookups.rating_criteria.items():
        params = (
            wave_name,
            criterion_name,
            people_ids,
            pseudonyms,
            groups,
            site_ids,
            site_codes,
            wave_id,
            criterion_id,
        )
        with connection.connection.cursor() as cursor, cursor.copy(_RATINGS_COPY, params) as copy:
            # libpq hands over one row per block; gathering about a megabyte before each
            # write keeps the zip's per-call overhead off the per-row path.
            for block in copy:
                buffer += block
                if len(buffer) >= COPY_BUFFER:
                    written += _flush(raw, buffer)
            written += _flush(raw, buffer)
        report(written)
    return written


def _flush(raw, buffer: bytearray) -> int:
    """Writes the buffered CSV to the zip entry and returns how many rows it held: no cell
    can contain a line break (codes are validated, names are one-line fields), so each
    newline ends one row."""
    rows = buffer.count(b"\n")
    raw.write(buffer)
    buffer.clear()
    return rows


def _rankings_write(writer, wave_id, wave_name, people, lookups, skipped) -> int:
    written = 0
    rows = (
        Ranking.objects.filter(wave_id=wave_id, criterion_id__in=list(lookups.ranking_criteria))
        .order_by("participant_id", "criterion_id")
        .values_list("participant_id", "criterion_id", "order")
        .iterator(chunk_size=CHUNK_SIZE)
    )
    for pid, criterion_id, order in rows:
        who = people.get(pid)
        if who is None:
            continue
        expected = lookups.ranking_sets.get(criterion_id, [])
        if not isinstance(order, list) or len(order) != len(expected) or set(order) != set(expected):
            skipped["ranking"] += 1
            continue
        criterion = lookups.ranking_criteria[criterion_id]
        for position, code in enumerate(order, start=1):
            writer.writerow(
                (
                    who[0],
                    who[1],
                    wave_name,
                    "ranking",
                    lookups.image_codes[code],
                    criterion,
                    position,
                )
            )
            written += 1
    return written


def _priorities_write(writer, wave_id, wave_name, people, lookups, tokens_total, skipped) -> int:
    """Writes each participant's allocation whole, and only if it adds up to the study's
    tokens, since the importer rejects any other (and so would refuse the file)."""
    written = 0
    rows = (
        Priority.objects.filter(wave_id=wave_id, criterion_id__in=list(lookups.rating_criteria))
        .order_by("participant_id", "criterion_id")
        .values_list("participant_id", "criterion_id", "tokens")
        .iterator(chunk_size=CHUNK_SIZE)
    )
    current, allocation = None, []

    def flush() -> int:
        who = people.get(current)
        if who is None or not allocation:
            return 0
        if sum(tokens for _, tokens in allocation) != tokens_total:
            skipped["priority"] += 1
            return 0
        for criterion_id, tokens in allocation:
            writer.writerow(
                (
                    who[0],
                    who[1],
                    wave_name,
                    "priority",
                    "",
                    lookups.rating_criteria[criterion_id],
                    tokens,
                )
            )
        return len(allocation)

    for pid, criterion_id, tokens in rows:
        if pid != current:
            written += flush()
            current, allocation = pid, []
        allocation.append((criterion_id, tokens))
    written += flush()
    return written


def _comments_write(zf: zipfile.ZipFile, lookups: _Lookups, people) -> int:
    written = 0
    with zf.open("comments.csv", "w", force_zip64=True) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow([csv_safe(name) for name, _ in COMMENTS_COLUMNS])
        for wave_id, wave_name in lookups.waves:
            rows = (
                Comment.objects.filter(wave_id=wave_id)
                .exclude(text="")
                .order_by("participant_id")
                .values_list("participant_id", "text")
                .iterator(chunk_size=CHUNK_SIZE)
            )
            for pid, body in rows:
                who = people.get(pid)
                if who is not None:
                    writer.writerow((who[0], wave_name, csv_safe(body)))
                    written += 1
        text.flush()
        text.detach()
    return written


def _wave_participants(study: Study, wave_id: int) -> int:
    """How many exported participants answered in the wave: one index probe per participant
    rather than a scan of the wave's answers."""
    answered = Q()
    for model in (Rating, Ranking, Priority):
        answered |= Exists(model.objects.filter(participant=OuterRef("pk"), wave_id=wave_id))
    return Participant.objects.filter(answered, study=study, consented_at__isnull=False).count()


def _summary(study, description, generalisation, people, lookups, counts, skipped) -> dict:
    exported_groups: dict[str, int] = {}
    for groups in generalisation.memberships.values():
        for g in groups:
            exported_groups[g] = exported_groups.get(g, 0) + 1
    for g in description.groups:
        g["exported"] = exported_groups.get(g["code"], 0)
    for wave, (wave_id, _) in zip(description.waves, lookups.waves, strict=True):
        wave["participants"] = _wave_participants(study, wave_id)
    return {
        "study": study.slug,
        "exported_on": timezone.localdate().isoformat(),
        "participants": len(people),
        "rows": counts,
        "skipped": skipped,
        "comments_included": study.comments_reviewed,
        "waves": [{"wave": w["name"], "participants": w["participants"]} for w in description.waves],
        "protection": {
            "k": generalisation.k,
            "k_reachable": generalisation.k_reachable,
            "generalised": generalisation.generalised,
            "suppressed": generalisation.suppressed,
            "affected": generalisation.affected,
            "removed": generalisation.removed,
            "combinations": [
                {"groups": list(combo), "participants": n} for combo, n in generalisation.combinations().items()
            ],
        },
        "analysis_report": _latest_analysis(study) is not None,
    }


def _latest_analysis(study: Study):
    from analytics.services import analysis_latest

    run = analysis_latest(study)
    return run.result if run is not None else None


def _analysis_report(study: Study, k: int):
    """The latest report, with the statistics of groups smaller than k blanked: a group of
    two would otherwise show its members' mean ratings, the small cell the export hides."""
    return _redact_small_groups(_latest_analysis(study), k)


def _redact_small_groups(value, k: int):
    """Blanks every group (declared or opinion group) smaller than k, and leaves out the
    opinion map's per-person points, which only the study's staff see on the dashboard."""
    if isinstance(value, list):
        return [_redact_small_groups(item, k) for item in value]
    if not isinstance(value, dict):
        return value
    n = value.get("n")
    if ("group" in value or "representative" in value) and isinstance(n, int) and 0 < n < k:
        kept = {key: value[key] for key in ("group", "id", "opinion_group") if key in value}
        return {**kept, "suppressed": f"fewer than {k} members"}
    return {key: _redact_small_groups(item, k) for key, item in value.items() if key != "points"}
