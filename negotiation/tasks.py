"""Celery tasks: thin wrappers around the services, which hold all the logic."""

from __future__ import annotations

from celery import shared_task
from django.db import DatabaseError

from .services import session_run


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
