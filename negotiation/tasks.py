"""Celery tasks: thin wrappers around the services, which hold all the logic."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_ready
from django.db import DatabaseError

from .services import session_pending_sweep, session_run

logger = logging.getLogger(__name__)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(DatabaseError,),
    max_retries=3,
    retry_backoff=5,
    retry_backoff_max=60,
)
def session_run_task(*, session_id: int) -> str:
    """Runs one negotiation session. Acknowledged only when done, so a lost worker hands it to
    another; the claim inside `session_run` keeps a redelivered task from running it twice."""
    return session_run(session_id=session_id).status


@shared_task(acks_late=True, autoretry_for=(DatabaseError,), max_retries=3, retry_backoff=5)
def session_pending_sweep_task() -> int:
    """Publishes the sessions the broker never got (see `session_pending_sweep`)."""
    return session_pending_sweep()


@worker_ready.connect
def _sweep_on_worker_start(**kwargs) -> None:
    # A worker that starts after a Redis outage picks up the sessions started meanwhile.
    try:
        published = session_pending_sweep()
    except Exception:
        logger.warning("Startup sweep of pending negotiation sessions failed.", exc_info=True)
        return
    if published:
        logger.info("Startup sweep published %d pending negotiation sessions.", published)
