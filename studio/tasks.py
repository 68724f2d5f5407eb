"""Celery tasks of the study builder: thin wrappers around the services."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_ready
from django.db import DatabaseError

from civic.jobs import JOB_TASK_OPTIONS

from .services import mailing_pending_sweep, mailing_send

logger = logging.getLogger(__name__)


@shared_task(bind=True, **JOB_TASK_OPTIONS)
def mailing_send_task(self, *, mailing_id: int) -> str:
    """Sends one batch of invitation e-mails; the claim inside `mailing_send` keeps a duplicate
    message from sending twice, and a redelivered one carries on where the first stopped."""
    delivery_info = self.request.delivery_info or {}
    take_over = bool(delivery_info.get("redelivered")) or bool(self.request.retries)
    return mailing_send(mailing_id=mailing_id, take_over=take_over).status


@shared_task(ignore_result=True, acks_late=True, autoretry_for=(DatabaseError,), max_retries=3, retry_backoff=5)
def mailing_sweep_task() -> int:
    """Run by Celery beat ("sweep-pending-mailings"): publishes again every batch the broker never
    got (Redis was down when it was requested) or whose worker died."""
    return mailing_pending_sweep()


@worker_ready.connect
def _sweep_on_worker_start(**kwargs) -> None:
    # A worker that starts after a Redis outage sends the batches requested meanwhile.
    try:
        mailing_pending_sweep()
    except Exception:
        logger.warning("Startup sweep of pending mailings failed.", exc_info=True)
