"""The life of a background job row (analysis runs, negotiation sessions, exports).

A job is a database row first: pending → queued (published to the broker) → running (claimed by
one worker with a conditional UPDATE) → done or failed. PostgreSQL is the source of truth; the
broker only carries a pointer, so a Redis outage leaves rows pending and the sweep publishes
them again. Publishing twice is harmless because only one claim can succeed.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import DatabaseError, models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)


class Job(models.Model):
    """The columns every background job row shares (see the module docstring)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    ACTIVE = (Status.PENDING, Status.QUEUED, Status.RUNNING)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    progress = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)


PENDING, QUEUED, RUNNING = Job.Status.PENDING, Job.Status.QUEUED, Job.Status.RUNNING

# Options of every job task: acknowledged only when done, so a lost worker hands the message to
# another (the claim keeps a redelivery from running twice); bounded retries on database errors;
# outcomes live on the row, never in a result backend.
JOB_TASK_OPTIONS = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "ignore_result": True,
    "autoretry_for": (DatabaseError,),
    "max_retries": 3,
    "retry_backoff": 5,
    "retry_backoff_max": 60,
}


def job_publish(model, pk: int, task, **kwargs) -> bool:
    """Publishes `task(**kwargs)`; marks the row queued if no worker has touched it yet.

    `retry=False` and `ignore_result=True` make a publish fail within the broker's connect
    timeout when Redis is down, instead of retrying (and the result backend subscribing) for
    about 20 s while a web request waits. Outcomes live on the row, not in a result backend."""
    try:
        task.apply_async(kwargs=kwargs, retry=False, ignore_result=True)
    except Exception:
        logger.warning("Could not publish %s %s; the sweep will retry.", model.__name__, pk, exc_info=True)
        return False
    model.objects.filter(pk=pk, status__in=[PENDING, QUEUED]).update(status=QUEUED, enqueued_at=timezone.now())
    return True


def job_claim(model, pk: int, *, stale_running: timedelta, take_over: bool = False, **updates) -> bool:
    """Moves the row to running with one conditional UPDATE. False if another worker has it or
    it is finished. A row running past `stale_running` belongs to a dead worker and may be
    claimed again; `take_over` (a redelivered message) claims a running row at once."""
    now = timezone.now()
    claimable = Q(status__in=[PENDING, QUEUED]) | Q(status=RUNNING, started_at__lte=now - stale_running)
    if take_over:
        claimable |= Q(status=RUNNING)
    return bool(
        model.objects.filter(claimable, pk=pk).update(
            status=RUNNING, started_at=now, error="", attempts=F("attempts") + 1, **updates
        )
    )


def job_stale_ids(
    model, *, grace: timedelta, stale_queued: timedelta | None, stale_running: timedelta, now=None, limit: int = 100
) -> list[int]:
    """Rows the broker may never have received or whose worker died, oldest first."""
    now = now or timezone.now()
    lost = Q(status=PENDING, created_at__lte=now - grace) | Q(status=RUNNING, started_at__lte=now - stale_running)
    if stale_queued is not None:
        lost |= Q(status=QUEUED, enqueued_at__lte=now - stale_queued)
    return list(model.objects.filter(lost).order_by("created_at").values_list("pk", flat=True)[:limit])
