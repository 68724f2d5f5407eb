"""The export job kind: registered with the project's job framework (see core.jobs)."""

from core.jobs import job_kind_register

from .models import ExportJob


def _purge(*, now=None) -> None:
    from .services import export_purge_expired

    export_purge_expired(now=now)


KIND = job_kind_register(
    "export",
    model=ExportJob,
    task="exports.tasks.export_build_task",
    id_kwarg="job_id",
    claim_updates={"progress": 0},
    on_sweep=_purge,
)
