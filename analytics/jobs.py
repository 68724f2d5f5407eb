"""The analysis job kind: registered with the project's job framework (see core.jobs)."""

from core.jobs import job_kind_register

from .models import AnalysisRun

KIND = job_kind_register(
    "analysis",
    model=AnalysisRun,
    task="analytics.tasks.analysis_run_task",
    id_kwarg="run_id",
    claim_updates={"progress": 0},
)
