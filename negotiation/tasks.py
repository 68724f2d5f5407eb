"""Celery tasks: thin wrappers around the services, which hold all the logic."""

from __future__ import annotations

from celery import shared_task

from core.jobs import JOB_TASK_OPTIONS, task_takes_over

from .live import live_step_run
from .services import session_run


@shared_task(**JOB_TASK_OPTIONS)
def session_run_task(self, *, session_id: int) -> str:
    """Runs one negotiation session. Acknowledged only when done, so a lost worker hands it to
    another; the claim inside `session_run` keeps a redelivered task from running it twice, and
    a redelivered message takes over the session its dead worker left "running"."""
    return session_run(session_id=session_id, take_over=task_takes_over(self.request)).status


@shared_task(**JOB_TASK_OPTIONS)
def live_step_task(self, *, step_id: int) -> str:
    """One step of a live session (propose a round, or build the outcome), keyed on
    (session, round): the claim runs it once, and a redelivered message after a worker's
    death takes it over."""
    return live_step_run(step_id=step_id, take_over=task_takes_over(self.request)).status
