"""Celery tasks: thin wrappers around the services, which hold all the logic."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_ready
from django.db import DatabaseError

from civic.jobs import JOB_TASK_OPTIONS

from .services import analysis_pending_sweep, analysis_run

logger = logging.getLogger(__name__)


@shared_task(bind=True, **JOB_TASK_OPTIONS)
def analysis_run_task(self, *, run_id: int) -> str:
    """Computes one analysis run. Acknowledged only when done, so a lost worker hands the run
    to another; the claim inside `analysis_run` keeps a duplicate task from computing twice.

    A redelivered message (its worker died mid-run; Redis marks it `redelivered`) or a retry
    takes over the run its earlier attempt left "running"; otherwise the run would wait for
    the sweep's STALE_RUNNING (12 minutes) before anyone computed it again."""
    delivery_info = self.request.delivery_info or {}
    take_over = bool(delivery_info.get("redelivered")) or bool(self.request.retries)
    return analysis_run(run_id=run_id, take_over=take_over).status


@shared_task(
    ignore_result=True,
    acks_late=True,
    autoretry_for=(DatabaseError,),
    max_retries=3,
    retry_backoff=5,
)
def pending_jobs_sweep_task() -> int:
    """Run by Celery beat ("sweep-pending-jobs"): see `_jobs_sweep`."""
    return _jobs_sweep()


def _jobs_sweep() -> int:
    """Publishes every kind of job the broker never got — analysis runs, negotiation sessions and
    exports — purges expired exports, and returns how many jobs it published."""
    from exports.services import export_sweep
    from negotiation.services import session_pending_sweep

    return analysis_pending_sweep() + session_pending_sweep() + export_sweep()["published"]


@worker_ready.connect
def _sweep_on_worker_start(**kwargs) -> None:
    # A worker that starts after a Redis outage picks up what was requested meanwhile.
    try:
        published = _jobs_sweep()
    except Exception:
        logger.warning("Startup sweep of pending jobs failed.", exc_info=True)
        return
    if published:
        logger.info("Startup sweep published %d pending jobs.", published)
