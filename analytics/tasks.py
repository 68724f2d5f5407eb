"""Celery tasks: thin wrappers around the services, which hold all the logic."""

from __future__ import annotations

from celery import shared_task

from core.jobs import JOB_TASK_OPTIONS, task_takes_over

from .services import analysis_run


@shared_task(**JOB_TASK_OPTIONS)
def analysis_run_task(self, *, run_id: int) -> str:
    """Computes one analysis run. Acknowledged only when done, so a lost worker hands the run
    to another; the claim inside `analysis_run` keeps a duplicate task from computing twice,
    and a redelivered message takes over the run its dead worker left "running"."""
    return analysis_run(run_id=run_id, take_over=task_takes_over(self.request)).status
