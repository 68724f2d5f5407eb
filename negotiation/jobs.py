"""The negotiation job kinds, registered with the project's job framework (see core.jobs): a
simulated session runs as one job; a live session is stepped by one LiveStep job per round."""

from django.db.models import Q

from core.jobs import job_kind_register

from .models import LiveStep, NegotiationSession

KIND = job_kind_register(
    "negotiation",
    model=NegotiationSession,
    task="negotiation.tasks.session_run_task",
    id_kwarg="session_id",
    claim_updates={"progress": 1},
    scope=Q(live=False),
)


def _live_sweep(*, now=None) -> None:
    # Beat's sweep also closes the rounds whose time limit passed while nobody was polling.
    from .live import live_deadlines_check

    live_deadlines_check(now=now)


LIVE_KIND = job_kind_register(
    "negotiation-live",
    model=LiveStep,
    task="negotiation.tasks.live_step_task",
    id_kwarg="step_id",
    on_sweep=_live_sweep,
)
