"""Analysis runs: request one, run one, sweep the ones the broker never received.

The flow is: `analysis_request` writes a pending AnalysisRun and, after the transaction
commits, publishes `analysis_run_task`. The worker calls `analysis_run`, which claims the row
with a conditional UPDATE, loads the answers, computes the report and saves it. PostgreSQL is
the source of truth: if Redis is down when publishing, the row stays pending and
`analysis_pending_sweep` publishes it again later.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.utils import timezone

from surveys.models import Study, Wave

from .jobs import KIND
from .loading import inputs_fingerprint, study_data_load
from .measures import compute_report
from .models import AnalysisRun

logger = logging.getLogger(__name__)

DEFAULT_PARAMETERS = {"n_permutations": 999, "n_bootstrap": 999, "seed": 0}
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
    """Returns a pending run of the study, scope and parameters, published once the surrounding
    transaction commits: a new one, or one that already waits for a worker (it will read the
    answers when it starts, so it covers this request too). Parallel requests of the same
    inputs get one run (see JobKind.request).

    `enqueue=False` is for callers that run it in-process at once (the analyze command).
    `reuse_active=True` ("Analyse now") also joins a run being computed by a live worker, so a
    double click queues one computation; a stuck run (its worker stopped beating) is never
    joined. Other callers (a wave closed, a withdrawal) changed the answers, so a run already
    computing on the old answers does not cover them.

    A rolled-back transaction publishes nothing. When publishing fails the run stays pending
    for the sweep, and the caller still gets the run back: the request is never lost."""
    if requested_by is not None and not requested_by.is_authenticated:
        requested_by = None
    parameters = {**_parameters(n_permutations, n_bootstrap, seed), "min_tested": study.min_tested_group_size}

    def find():
        if not enqueue:
            return None
        return (
            AnalysisRun.objects.filter(KIND.joinable(running=reuse_active), study=study, scope=scope)
            .filter(parameters=parameters)
            .defer("result")
            .first()
        )

    def create():
        return AnalysisRun.objects.create(
            study=study, scope=scope, parameters=parameters, reason=reason[:200], requested_by=requested_by
        )

    key = f"{study.pk}:{scope}:{json.dumps(parameters, sort_keys=True)}"
    run, _created = KIND.request(key=key, find=find, create=create, enqueue=enqueue)
    return run


def analysis_pending_sweep(*, now=None) -> int:
    """Publishes again every run the broker never received, may have lost, or whose worker
    died (see core.jobs). Returns how many runs were published."""
    return KIND.sweep(now=now)


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
        KIND.progress(run_id, percent)

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
    "running" status is stale and this call claims it again at once. If the first worker were
    somehow still alive, both would save the same seeded result into the same row.

    Safe to call twice. A failure is recorded on the row (status failed, error) rather than
    raised, so an eager task inside a web request never turns into a server error.

    When the same study, scope and inputs were analysed before, that result is reused (the
    math is seeded, so it would be identical) and the older row is replaced by this one,
    leaving one done run per set of inputs."""

    def compute() -> None:
        run = AnalysisRun.objects.select_related("study").get(pk=run_id)
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

    return KIND.execute(run_id, compute, take_over=take_over)


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
                KIND.finish(run.pk, inputs_fingerprint=fingerprint, result=result)
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
