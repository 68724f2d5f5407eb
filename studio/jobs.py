"""The mailing job kind: registered with the project's job framework (see core.jobs)."""

from core.jobs import job_kind_register

from .models import Mailing

KIND = job_kind_register(
    "mailing",
    model=Mailing,
    task="studio.tasks.mailing_send_task",
    id_kwarg="mailing_id",
    claim_updates={"progress": 0},
)
