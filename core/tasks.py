"""The task every kind of job shares: the sweep of lost jobs, run by beat and at worker start."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_ready
from django.db import DatabaseError

from .jobs import jobs_sweep

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True, acks_late=True, autoretry_for=(DatabaseError,), max_retries=3, retry_backoff=5)
def jobs_sweep_task() -> int:
    """Run by Celery beat ("sweep-pending-jobs"): publishes the lost jobs of every kind and
    purges expired exports; returns how many jobs it published."""
    return jobs_sweep()


@worker_ready.connect
def _sweep_on_worker_start(**kwargs) -> None:
    # A worker that starts after a Redis outage or a killed worker picks up what was left.
    try:
        published = jobs_sweep()
    except Exception:
        logger.warning("Startup sweep of pending jobs failed.", exc_info=True)
        return
    if published:
        logger.info("Startup sweep published %d pending jobs.", published)
