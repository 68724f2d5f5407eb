"""Celery tasks of the study builder: thin wrappers around the services."""

from __future__ import annotations

from celery import shared_task

from civic.jobs import JOB_TASK_OPTIONS

from .services import mailing_send


@shared_task(bind=True, **JOB_TASK_OPTIONS)
def mailing_send_task(self, *, mailing_id: int) -> str:
    """Sends one batch of invitation e-mails; the claim inside `mailing_send` keeps a duplicate
    message from sending twice, and a redelivered one carries on where the first stopped."""
    delivery_info = self.request.delivery_info or {}
    take_over = bool(delivery_info.get("redelivered")) or bool(self.request.retries)
    return mailing_send(mailing_id=mailing_id, take_over=take_over).status
