"""Celery tasks: thin wrappers around the export services."""

from __future__ import annotations

from celery import shared_task

from core.jobs import JOB_TASK_OPTIONS, task_takes_over

from .services import export_build


@shared_task(**JOB_TASK_OPTIONS)
def export_build_task(self, *, job_id: int) -> str:
    """Builds one export. Acknowledged only when done, so a lost worker hands the job to
    another; the claim inside `export_build` keeps a redelivered task from building twice, and
    a redelivered message takes over the job its dead worker left "running"."""
    return export_build(job_id=job_id, take_over=task_takes_over(self.request)).status
