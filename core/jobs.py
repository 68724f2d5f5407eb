"""One framework for every background job (analysis runs, negotiation sessions, exports).

A job is a database row first: pending → queued (published to the broker) → running (claimed by
one worker with a conditional UPDATE) → done or failed. PostgreSQL is the source of truth; the
broker only carries a pointer, so a Redis outage leaves rows pending and the sweep publishes
them again. Publishing twice is harmless because only one claim can succeed.

Each kind registers a `JobKind` (its model, its task, what a claim resets). The kind then
offers, the same way for all:

- `request`: one job per (kind, inputs) even under parallel clicks — a PostgreSQL advisory lock
  serialises the look-up of a joinable job and the insert — published once the transaction
  commits;
- `execute`: claim, heartbeat while the body runs, record a failure on the row (never raised,
  so an eager task inside a request is never a 500);
- `finish` / `fail`: the conditional updates that end a job;
- the all-kinds `jobs_sweep`, run by beat and by every worker at start-up.

A running job's worker writes `heartbeat_at` every HEARTBEAT_INTERVAL. A running row whose
heartbeat is older than STALE_RUNNING lost its worker — even when the whole worker was killed
and nobody will ever reject its message — and the sweep publishes it again; a redelivered
message (the broker saw its worker die) takes the row over at once.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from datetime import timedelta

from django.db import DatabaseError, connection, models, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)

# A pending row younger than this is probably still waiting for its own on_commit publish.
SWEEP_GRACE = timedelta(seconds=10)
# A running job's worker proves it is alive this often.
HEARTBEAT_INTERVAL = timedelta(seconds=5)
# A running row without a heartbeat for this long lost its worker.
STALE_RUNNING = timedelta(seconds=30)
# A queued row older than this may have lost its message (Redis restarted without persistence,
# or the AOF's last second): publish it again. Sending a message twice is harmless (the claim).
STALE_QUEUED = timedelta(minutes=12)
# How many stale rows of one kind a sweep publishes at most.
SWEEP_LIMIT = 100


class Job(models.Model):
    """The columns every background job row shares (see the module docstring)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    ACTIVE = (Status.PENDING, Status.QUEUED, Status.RUNNING)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, verbose_name=_("status"))
    progress = models.PositiveSmallIntegerField(default=0, verbose_name=_("progress"))
    error = models.TextField(blank=True, verbose_name=_("error"))
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("attempts"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    enqueued_at = models.DateTimeField(null=True, blank=True, verbose_name=_("queued at"))
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("started at"))
    heartbeat_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last sign of life at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))

    class Meta:
        abstract = True

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)


PENDING, QUEUED, RUNNING = Job.Status.PENDING, Job.Status.QUEUED, Job.Status.RUNNING
DONE, FAILED = Job.Status.DONE, Job.Status.FAILED

# Options of every job task: acknowledged only when done, so a lost worker hands the message to
# another (the claim keeps a redelivery from running twice); bounded retries on database errors;
# outcomes live on the row, never in a result backend.
JOB_TASK_OPTIONS = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "ignore_result": True,
    "autoretry_for": (DatabaseError,),
    "max_retries": 3,
    "retry_backoff": 5,
    "retry_backoff_max": 60,
}


def task_takes_over(request) -> bool:
    """True for a delivery whose earlier attempt left the row "running": a message Redis marks
    `redelivered` (its worker died) or a retry of this very task."""
    delivery_info = getattr(request, "delivery_info", None) or {}
    return bool(delivery_info.get("redelivered")) or bool(getattr(request, "retries", 0))


def _stale(now) -> Q:
    """Running rows whose worker stopped beating (rows from before heartbeats use started_at)."""
    cut = now - STALE_RUNNING
    return Q(status=RUNNING) & (Q(heartbeat_at__lte=cut) | Q(heartbeat_at__isnull=True, started_at__lte=cut))


def _lock_key(text: str) -> int:
    """A signed 64-bit advisory-lock key for `text`."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)


class JobKind:
    """One kind of job: its model, its task (by import path, so services need not import their
    tasks module) and the keyword that carries the row's id."""

    def __init__(
        self,
        name: str,
        *,
        model,
        task: str,
        id_kwarg: str,
        claim_updates: dict | None = None,
        on_sweep: Callable[..., object] | None = None,
        scope: Q | None = None,
    ):
        self.name = name
        self.model = model
        self.task_path = task
        self.id_kwarg = id_kwarg
        self.claim_updates = claim_updates or {"progress": 0}
        self.on_sweep = on_sweep
        # The model's rows this kind runs (others may share the table and are never claimed or
        # swept by it, such as live negotiation sessions, which are stepped by their own kind).
        self.scope = scope if scope is not None else Q()

    def __repr__(self) -> str:
        return f"JobKind({self.name!r})"

    @property
    def task(self):
        return import_string(self.task_path)

    # --- requesting -------------------------------------------------------------------------

    def joinable(self, *, running: bool = True, now=None) -> Q:
        """Active rows a new request may join instead of adding one: waiting rows, and (when
        `running`) rows whose worker is alive. A stuck row (no heartbeat) is never joined."""
        now = now or timezone.now()
        waiting = Q(status__in=[PENDING, QUEUED])
        if not running:
            return waiting
        return waiting | (Q(status=RUNNING) & ~_stale(now))

    def request(self, *, key: str, find: Callable[[], object], create: Callable[[], object], enqueue: bool = True):
        """Returns `(job, created)`: the joinable job `find()` returns, else a new one from
        `create()`, published once the transaction commits.

        On PostgreSQL an advisory lock on (kind, key) held to the end of the transaction
        serialises concurrent requests, so parallel clicks create exactly one job; each one
        waits only for the previous request's insert to commit. A joined job still pending
        past the grace period is published again (its first publish was lost)."""
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_key(f"{self.name}:{key}")])
            job = find()
            created = job is None
            if created:
                job = create()
            stale_pending = job.status == PENDING and job.created_at <= timezone.now() - SWEEP_GRACE
            if enqueue and (created or stale_pending):
                pk = job.pk
                transaction.on_commit(lambda: self.publish(pk))
        return job, created

    def publish(self, pk: int) -> bool:
        """Publishes the task; marks the row queued if no worker has touched it yet.

        `retry=False` and `ignore_result=True` make a publish fail within the broker's connect
        timeout when Redis is down, instead of retrying for about 20 s while a web request
        waits. The row stays pending and the sweep publishes it later."""
        try:
            self.task.apply_async(kwargs={self.id_kwarg: pk}, retry=False, ignore_result=True)
        except Exception:
            logger.warning("Could not publish %s %s; the sweep will retry.", self.name, pk, exc_info=True)
            return False
        self.model.objects.filter(pk=pk, status__in=[PENDING, QUEUED]).update(status=QUEUED, enqueued_at=timezone.now())
        return True

    # --- running ----------------------------------------------------------------------------

    def claim(self, pk: int, *, take_over: bool = False) -> bool:
        """Moves the row to running with one conditional UPDATE, counting the attempt. False if a
        live worker has it or it is finished. A stale running row (no heartbeat) may be claimed
        again; `take_over` (a redelivered message) claims a running row at once."""
        now = timezone.now()
        claimable = Q(status__in=[PENDING, QUEUED]) | _stale(now)
        if take_over:
            claimable |= Q(status=RUNNING)
        return bool(
            self.model.objects.filter(claimable, self.scope, pk=pk).update(
                status=RUNNING,
                started_at=now,
                heartbeat_at=now,
                error="",
                attempts=F("attempts") + 1,
                **self.claim_updates,
            )
        )

    def execute(self, pk: int, body: Callable[[], object], *, take_over: bool = False, on_failure=None):
        """Claims the row and runs `body()` while a heartbeat thread proves the worker alive.

        Returns the row afterwards (as it is, if it could not be claimed). Any exception of the
        body — or of what it needs first, such as a directory — marks the row failed with its
        error, calls `on_failure(exc)` and is not raised."""
        if not self.claim(pk, take_over=take_over):
            return self.model.objects.get(pk=pk)
        beat = _Heartbeat(self.model, pk)
        beat.start()
        try:
            body()
        except Exception as exc:
            logger.exception("%s %s failed", self.name, pk)
            self.fail(pk, exc)
            if on_failure is not None:
                try:
                    on_failure(exc)
                except Exception:
                    logger.exception("Failure hook of %s %s failed", self.name, pk)
        finally:
            beat.stop()
        return self.model.objects.get(pk=pk)

    def finish(self, pk: int, **fields) -> bool:
        """Marks a running row done (progress 100) with `fields`; False if it was not running."""
        fields.setdefault("progress", 100)
        fields.setdefault("finished_at", timezone.now())
        return bool(self.model.objects.filter(pk=pk, status=RUNNING).update(status=DONE, **fields))

    def fail(self, pk: int, error: Exception | str) -> bool:
        """Marks a running row failed with the error's text."""
        if isinstance(error, BaseException):
            error = getattr(error, "job_message", None) or f"{type(error).__name__}: {error}"
        return bool(
            self.model.objects.filter(pk=pk, status=RUNNING).update(
                status=FAILED, error=str(error)[:2000], finished_at=timezone.now()
            )
        )

    def progress(self, pk: int, percent: int) -> None:
        self.model.objects.filter(pk=pk, status=RUNNING).update(progress=percent)

    # --- sweeping ---------------------------------------------------------------------------

    def stale_ids(self, *, now=None, limit: int = SWEEP_LIMIT) -> list[int]:
        """Rows the broker may never have received, may have lost, or whose worker died."""
        now = now or timezone.now()
        lost = (
            Q(status=PENDING, created_at__lte=now - SWEEP_GRACE)
            | Q(status=QUEUED, enqueued_at__lte=now - STALE_QUEUED)
            | _stale(now)
        )
        return list(
            self.model.objects.filter(lost, self.scope).order_by("created_at").values_list("pk", flat=True)[:limit]
        )

    def sweep(self, *, now=None) -> int:
        """Publishes this kind's lost rows again; returns how many."""
        published = sum(self.publish(pk) for pk in self.stale_ids(now=now))
        if self.on_sweep is not None:
            self.on_sweep(now=now)
        return published


class _Heartbeat:
    """A daemon thread writing `heartbeat_at` of one running row every HEARTBEAT_INTERVAL, on its
    own database connection, until stopped. It first beats one interval after the claim (which
    wrote the first heartbeat), so short jobs never open a second connection."""

    def __init__(self, model, pk: int):
        self.model, self.pk = model, pk
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"heartbeat-{model.__name__}-{pk}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=HEARTBEAT_INTERVAL.total_seconds() + 5)

    def _run(self) -> None:
        from django.db import connections

        try:
            while not self.stopped.wait(HEARTBEAT_INTERVAL.total_seconds()):
                try:
                    alive = self.model.objects.filter(pk=self.pk, status=RUNNING).update(heartbeat_at=timezone.now())
                except Exception:
                    logger.warning("Heartbeat of %s %s failed", self.model.__name__, self.pk, exc_info=True)
                    continue
                if not alive:
                    return
        finally:
            connections.close_all()


REGISTRY: dict[str, JobKind] = {}


def job_kind_register(name: str, **options) -> JobKind:
    """Registers (or returns the already registered) kind `name`; see JobKind."""
    if name not in REGISTRY:
        REGISTRY[name] = JobKind(name, **options)
    return REGISTRY[name]


def jobs_sweep(*, now=None) -> int:
    """Publishes the lost rows of every registered kind (and runs each kind's sweep hook, such
    as purging expired exports); returns how many jobs it published."""
    return sum(kind.sweep(now=now) for kind in REGISTRY.values())
