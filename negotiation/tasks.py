"""Celery tasks: thin wrappers around the services, which hold all the logic."""

from __future__ import annotations

from celery import shared_task

from core.jobs import JOB_TASK_OPTIONS, task_takes_over

from .services import session_run


@shared_task(**JOB_TASK_OPTIONS)
def session_run_task(self, *, session_id: int) -> str:
    """Runs one negotiation session. Acknowledged only when done, so a lost worker hands it to
    another; the claim inside `session_run` keeps a redelivered task from running it twice, and
    a redelivered message takes over the session its dead worker left "running"."""
    return session_run(session_id=session_id, take_over=task_takes_over(self.request)).status
