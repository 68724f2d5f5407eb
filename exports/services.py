"""The life of an export job: request one, build it, sweep, delete.

`export_request` returns the requester's joinable export of the study or writes a pending one,
published after the transaction commits (one job however many parallel clicks, see
core.jobs). The worker calls `export_build`, which claims the job and writes the zip (writer)
under `settings.PRIVATE_ROOT`; the management command calls the same function. Who may
download is decided in `download`, the audit log lives in `audit`.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from surveys.models import Study

from .audit import Action, audit_record
from .download import export_target
from .jobs import KIND
from .models import ExportJob
from .writer import export_write

EXPORT_TTL = timedelta(hours=24)
PROGRESS_INTERVAL = 0.5


def export_request(*, study: Study, user, enqueue: bool = True, via: str = "web") -> ExportJob:
    """Returns the user's export of the study that is waiting or being built by a live worker,
    or creates a pending one (audited) and publishes its task once the transaction commits.

    Parallel requests of one user and study make one job. `enqueue=False` is for the command,
    which builds in-process (and has no requester, so it always gets a new job)."""
    requester = user if user is not None and user.is_authenticated else None

    def find():
        if requester is None:
            return None
        return ExportJob.objects.filter(KIND.joinable(), study=study, requested_by=requester).first()

    def create():
        job = ExportJob.objects.create(study=study, requested_by=requester)
        audit_record(
            action=Action.EXPORT_REQUESTED,
            actor=requester,
            study=study,
            target=export_target(job.pk),
            details={"via": via},
        )
        return job

    job, _created = KIND.request(
        key=f"{study.pk}:{requester.pk if requester else '-'}", find=find, create=create, enqueue=enqueue
    )
    return job


def _progress_writer(job_id: int, total: int) -> Callable[[int], None]:
    """A callback taking rows written so far; writes a percentage (at most 99 until the zip
    is closed) at most every PROGRESS_INTERVAL seconds."""
    state = {"at": 0.0, "percent": -1}

    def write(done: int) -> None:
        percent = min(99, done * 100 // max(total, 1))
        now = time.monotonic()
        if percent == state["percent"] or now - state["at"] < PROGRESS_INTERVAL:
            return
        state.update(at=now, percent=percent)
        KIND.progress(job_id, percent)

    return write


def export_build(*, job_id: int, take_over: bool = False) -> ExportJob:
    """Builds the job's zip unless another call already claimed or finished it.

    Safe to call twice. Any failure — writing the zip or creating its directory — is recorded
    on the job (status failed, error) and in the audit log rather than raised, so an eager task
    inside a request never becomes a 500 and no job is left "running"."""
    job = ExportJob.objects.select_related("study", "requested_by").get(pk=job_id)
    root = Path(settings.PRIVATE_ROOT)
    name = f"{secrets.token_hex(16)}.zip"
    partial = root / f"{name}.part"

    def build() -> None:
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            summary = export_write(
                study=job.study, path=partial, progress=lambda total: _progress_writer(job_id, total)
            )
            os.replace(partial, root / name)
        finally:
            partial.unlink(missing_ok=True)
        now = timezone.now()
        KIND.finish(
            job_id,
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
            target=export_target(job_id),
            details={"rows": summary["rows"], "participants": summary["participants"]},
        )

    def failed(exc: Exception) -> None:
        audit_record(
            action=Action.EXPORT_FAILED,
            actor=job.requested_by,
            study=job.study,
            target=export_target(job_id),
            details={"error": type(exc).__name__},
        )

    return KIND.execute(job_id, build, take_over=take_over, on_failure=failed)


def export_sweep(*, now=None) -> dict:
    """Publishes lost exports again and deletes the files of expired ones (the all-kinds sweep
    does both through the job kind)."""
    published = sum(KIND.publish(pk) for pk in KIND.stale_ids(now=now))
    return {"published": published, "purged": export_purge_expired(now=now)}


def export_purge_expired(*, now=None, limit: int = 500) -> int:
    """Deletes the files of expired exports; returns how many."""
    now = now or timezone.now()
    expired = ExportJob.objects.filter(expires_at__lte=now, deleted_at__isnull=True).exclude(file_name="")
    purged = 0
    for job in expired.select_related("study")[:limit]:
        export_delete(job=job, actor=None, reason="expired")
        purged += 1
    return purged


def export_delete(*, job: ExportJob, actor=None, reason: str = "") -> ExportJob:
    """Deletes the export's file and marks it deleted; the row stays as the record."""
    if job.path is not None:
        job.path.unlink(missing_ok=True)
    ExportJob.objects.filter(pk=job.pk, deleted_at__isnull=True).update(deleted_at=timezone.now())
    audit_record(
        action=Action.EXPORT_DELETED,
        actor=actor,
        study=job.study,
        target=export_target(job.pk),
        details={"reason": reason},
    )
    job.refresh_from_db()
    return job
