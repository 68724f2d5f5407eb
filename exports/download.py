"""Who may download an export, now: every decision, granted or refused, is audited."""

from __future__ import annotations

from django.http import Http404

from surveys.models import Study
from surveys.permissions import RESEARCHER, study_get_for_user

from .audit import Action, audit_record
from .models import ExportJob

ERROR_NOT_FOUND = "No such export."
ERROR_GONE = "This export has expired or was deleted. Request a new one."


def export_target(job_id) -> str:
    """How the audit log names an export."""
    return f"export:{job_id}"


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
            target=export_target(job_id),
            details={"reason": denied.reason, "status": denied.status},
        )
        raise
    audit_record(action=Action.EXPORT_DOWNLOADED, actor=user, study=study, target=export_target(job_id))
    return job


def export_download_name(job: ExportJob) -> str:
    return f"{job.study.slug}-anonymised-{job.pk}-{job.finished_at:%Y-%m-%d}.zip"
