"""Celery tasks of the study builder: thin wrappers around the services."""

from __future__ import annotations

from celery import shared_task
from django.db import DatabaseError

from core.jobs import JOB_TASK_OPTIONS, task_takes_over

from .services import mailing_pending_sweep, mailing_send


@shared_task(**JOB_TASK_OPTIONS)
def mailing_send_task(self, *, mailing_id: int) -> str:
    """Sends one batch of invitation e-mails; the claim inside `mailing_send` keeps a duplicate
    message from sending twice, and a redelivered one carries on where the first stopped."""
    return mailing_send(mailing_id=mailing_id, take_over=task_takes_over(self.request)).status


@shared_task(ignore_result=True, acks_late=True, autoretry_for=(DatabaseError,), max_retries=3, retry_backoff=5)
def mailing_sweep_task() -> int:
    """Run by Celery beat ("sweep-pending-mailings"): the mailings' part of the all-kinds sweep
    (core.tasks.jobs_sweep_task), which also runs at every worker start."""
    return mailing_pending_sweep()
