"""The negotiation job kind: registered with the project's job framework (see core.jobs)."""

from core.jobs import job_kind_register

from .models import NegotiationSession

KIND = job_kind_register(
    "negotiation",
    model=NegotiationSession,
    task="negotiation.tasks.session_run_task",
    id_kwarg="session_id",
    claim_updates={"progress": 1},
)
