"""Analysis runs: request one, run one, sweep the ones the broker never received.

The flow is: `analysis_request` writes a pending AnalysisRun and, after the transaction
commits, publishes `analysis_run_task`. The worker calls `analysis_run`, which claims the row
with a conditional UPDATE, loads the answers, computes the report and saves it. PostgreSQL is
the source of truth: if Redis is down when publishing, the row stays pending and
`analysis_pending_sweep` publishes it again later.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from civic.jobs import job_claim, job_publish, job_stale_ids
from surveys.models import Study, Wave

from .loading import inputs_fingerprint, study_data_load
from .measures import compute_report
from .models import AnalysisRun

logger = logging.getLogger(__name__)

DEFAULT_PARAMETERS = {"n_permutations": 999, "n_bootstrap": 999, "seed": 0}
# A pending row younger than this is probably still waiting for its own on_commit publish.
SWEEP_GRACE = timedelta(seconds=10)
# A running row older than this lost its worker (the hard time limit has long passed).
STALE_RUNNING = timedelta(seconds=getattr(settings, "CELERY_TASK_TIME_LIMIT", 660) + 60)
# A queued row older than this may have lost its message (Redis restarted without persistence,
# or the AOF's last second): publish it again. Sending a message twice is harmless (the claim).
STALE_QUEUED = STALE_RUNNING
# Progress is written at most this often, so a fast computation does not flood the database.
PROGRESS_INTERVAL = 0.5

ERROR_UNKNOWN_SCOPE = "Unknown analysis scope."


def _parameters(n_permutations, n_bootstrap, seed) -> dict:
    given = {"n_permutations": n_permutations, "n_bootstrap": n_bootstrap, "seed": seed}
    return {k: int(v) if v is not None else DEFAULT_PARAMETERS[k] for k, v in given.items()}


def analysis_request(
    *,
    study: Study,
    requested_by=None,
    reason: str = "",
    scope: str = AnalysisRun.SCOPE_STUDY,
    n_permutations: int | None = None,
    n_bootstrap: int | None = None,
    seed: int | None = None,
    enqueue: bool = True,
    reuse_active: bool = False,
) -> AnalysisRun:
    """Creates a pending run and publishes its task once the surrounding transaction commits.

    `enqueue=False` is for callers that run it in-process at once (the analyze command).
    `reuse_active=True` returns the study's unfinished run of the same scope instead of
    adding another, so a double click on "Analyse now" queues one computation.

    A rolled-back transaction publishes nothing. When publishing fails the run stays pending
    for the sweep, and the caller still gets the run back: the request is never lost."""
    if requested_by is not None and not requested_by.is_authenticated:
        requested_by = None
    if reuse_active:
        # A pending row past the grace period missed the broker; joining it would leave the
        # click waiting for the sweep, so only fresh or already queued runs are joined.
        fresh = ~Q(status=AnalysisRun.Status.PENDING) | Q(created_at__gt=timezone.now() - SWEEP_GRACE)
        active = AnalysisRun.objects.active().filter(fresh, study=study, scope=scope).first()
        if active is not None:
            return active
    run = AnalysisRun.objects.create(
        study=study,
        scope=scope,
        parameters={**_parameters(n_permutations, n_bootstrap, seed), "min_tested": study.min_tested_group_size},
        reason=reason[:200],
        requested_by=requested_by,
    )
    if enqueue:
        transaction.on_commit(lambda: _enqueue(run.pk))
    return run


def _enqueue(run_id: int) -> bool:
    from .tasks import analysis_run_task

    return job_publish(AnalysisRun, run_id, analysis_run_task, run_id=run_id)


def analysis_pending_sweep(*, now=None) -> int:
    """Publishes again every run the broker never received (pending past a grace period),
    every run whose message may have been lost with Redis (queued for STALE_QUEUED) and
    every run whose worker died mid-way (running far past the task time limit).

    Returns how many runs were published. Publishing twice is harmless: `analysis_run`
    claims a row only once."""
    ids = job_stale_ids(AnalysisRun, grace=SWEEP_GRACE, stale_queued=STALE_QUEUED, stale_running=STALE_RUNNING, now=now)
    return sum(_enqueue(run_id) for run_id in ids)


def _claim(run_id: int, *, take_over: bool = False) -> bool:
    return job_claim(AnalysisRun, run_id, stale_running=STALE_RUNNING, take_over=take_over, progress=0)


def _progress_writer(run_id: int, *, low: int, high: int) -> Callable[[float], None]:
    """A callback mapping a fraction to low..high percent, written through queryset.update so
    other connections (the polling page) see it at once, at most every PROGRESS_INTERVAL s."""
    state = {"at": 0.0, "percent": -1}

    def write(fraction: float) -> None:
        percent = int(low + (high - low) * min(max(fraction, 0.0), 1.0))
        now = time.monotonic()
        if percent == state["percent"] or (now - state["at"] < PROGRESS_INTERVAL and fraction < 1):
            return
        state.update(at=now, percent=percent)
        AnalysisRun.objects.filter(pk=run_id, status=AnalysisRun.Status.RUNNING).update(progress=percent)

    return write


def _wave_ids_for_scope(run: AnalysisRun) -> list[int] | None:
    if run.scope == AnalysisRun.SCOPE_STUDY:
        return None
    if run.scope.startswith("wave:"):
        wave_id = run.scope.removeprefix("wave:")
        if wave_id.isdigit() and Wave.objects.filter(pk=int(wave_id), study=run.study_id).exists():
            return [int(wave_id)]
    raise ValueError(ERROR_UNKNOWN_SCOPE)


def analysis_run(*, run_id: int, take_over: bool = False) -> AnalysisRun:
    """Computes the run's report, unless another call already claimed or finished it.

    `take_over=True` is for a redelivered task: the worker that claimed the run died (the
    broker only redelivers an unacknowledged message when its worker was lost), so the run's
    "running" status is stale and this call claims it again instead of waiting for
    STALE_RUNNING. If the first worker were somehow still alive, both would save the same
    seeded result into the same row.

    Safe to call twice. A failure is recorded on the row (status failed, error) rather than
    raised, so an eager task inside a web request never turns into a server error.

    When the same study, scope and inputs were analysed before, that result is reused (the
    math is seeded, so it would be identical) and the older row is replaced by this one,
    leaving one done run per set of inputs."""
    if not _claim(run_id, take_over=take_over):
        return AnalysisRun.objects.get(pk=run_id)
    run = AnalysisRun.objects.select_related("study").get(pk=run_id)
    try:
        loaded = study_data_load(study=run.study, wave_ids=_wave_ids_for_scope(run))
        _progress_writer(run_id, low=0, high=10)(1.0)
        labels = {"groups": loaded.group_labels, "criteria": loaded.criterion_labels}
        fingerprint = inputs_fingerprint(loaded.data, {**run.parameters, "labels": labels})
        previous = (
            AnalysisRun.objects.done()
            .filter(study=run.study_id, scope=run.scope, inputs_fingerprint=fingerprint)
            .exclude(pk=run_id)
            .only("result")
            .first()
        )
        if previous is not None and previous.result is not None:
            result = previous.result
        else:
            result = compute_report(
                loaded.data,
                progress=_progress_writer(run_id, low=10, high=99),
                **run.parameters,
            )
            result["labels"] = labels
        _save_result(run, fingerprint, result)
    except Exception as exc:
        logger.exception("Analysis run %s failed", run_id)
        AnalysisRun.objects.filter(pk=run_id, status=AnalysisRun.Status.RUNNING).update(
            status=AnalysisRun.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
    run.refresh_from_db()
    return run


def _save_result(run: AnalysisRun, fingerprint: str, result: dict) -> None:
    """Replaces any earlier done run of the same inputs, and any earlier stale one, with this
    one, in one transaction."""
    for attempt in range(2):
        try:
            with transaction.atomic():
                AnalysisRun.objects.done().filter(
                    study=run.study_id, scope=run.scope, inputs_fingerprint=fingerprint
                ).exclude(pk=run.pk).delete()
                # Results marked stale before this run was requested used withdrawn answers;
                # this one replaces them, so they go.
                AnalysisRun.objects.done().filter(
                    study=run.study_id, scope=run.scope, stale_since__isnull=False, created_at__lt=run.created_at
                ).delete()
                AnalysisRun.objects.filter(pk=run.pk).update(
                    status=AnalysisRun.Status.DONE,
                    progress=100,
                    inputs_fingerprint=fingerprint,
                    result=result,
                    finished_at=timezone.now(),
                )
            return
        except IntegrityError:
            # A concurrent run of the same inputs finished between our delete and update.
            if attempt:
                raise


def analysis_latest(study: Study, *, scope: str = AnalysisRun.SCOPE_STUDY) -> AnalysisRun | None:
    """The newest finished report of the study, or None."""
    return AnalysisRun.objects.done().filter(study=study, scope=scope).first()


def analysis_current(study: Study) -> AnalysisRun | None:
    """The newest run of the study in any state: what the progress bar shows."""
    return AnalysisRun.objects.filter(study=study).defer("result").first()


def analysis_mark_stale(*, study: Study, reason: str) -> list[AnalysisRun]:
    """Answers the study's results were computed from were deleted (a participant withdrew).

    Every finished or running result is marked stale rather than deleted: the dashboard keeps
    showing the last results, labelled, until the fresh analysis requested here for each scope is
    done, and saving that one deletes the stale ones. A fresh run that has not started yet
    (pending or queued, so it will load the answers as they are now) is joined instead of adding
    another, so many withdrawals queue one computation. A study with no result has nothing to
    refresh. Returns the fresh runs."""
    with transaction.atomic():
        AnalysisRun.objects.filter(
            study=study, status__in=(AnalysisRun.Status.DONE, AnalysisRun.Status.RUNNING), stale_since__isnull=True
        ).update(stale_since=timezone.now())
        scopes = sorted(
            set(
                AnalysisRun.objects.filter(study=study, stale_since__isnull=False)
                .exclude(status=AnalysisRun.Status.FAILED)
                .values_list("scope", flat=True)
            )
        )
        fresh = []
        for scope in scopes:
            waiting = (
                AnalysisRun.objects.filter(
                    study=study, scope=scope, status__in=(AnalysisRun.Status.PENDING, AnalysisRun.Status.QUEUED)
                )
                .defer("result")
                .first()
            )
            fresh.append(waiting or analysis_request(study=study, scope=scope, reason=reason))
        return fresh


def wave_close(*, wave: Wave, requested_by=None) -> AnalysisRun:
    """Closes a wave and requests a fresh analysis of the whole study, after commit."""
    with transaction.atomic():
        Wave.objects.filter(pk=wave.pk).update(status=Wave.Status.CLOSED)
        wave.status = Wave.Status.CLOSED
        return analysis_request(study=wave.study, requested_by=requested_by, reason=f"wave {wave.name} closed")
