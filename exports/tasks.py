"""Celery tasks: thin wrappers around the export services."""

from __future__ import annotations

from celery import shared_task
from django.db import DatabaseError

from .services import export_build


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(DatabaseError,),
    max_retries=3,
    retry_backoff=5,
    retry_backoff_max=60,
)
def export_build_task(*, job_id: int) -> str:
    """Builds one export. Acknowledged only when done, so a lost worker hands the job to
    another; the claim inside `export_build` keeps a redelivered task from building twice."""
    return export_build(job_id=job_id).status
