"""Analysis runs: one computation of the disagreement report for a study, with its progress."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.jobs import Job


class AnalysisRunQuerySet(models.QuerySet):
    def for_study(self, study):
        return self.filter(study=study)

    def done(self):
        return self.filter(status=AnalysisRun.Status.DONE)

    def active(self):
        return self.filter(status__in=AnalysisRun.ACTIVE)


class AnalysisRun(Job):
    """A request to compute a study's report, and, once done, the report itself.

    `inputs_fingerprint` hashes the loaded answers together with the parameters; at most one
    done run per study, scope and fingerprint exists, so analysing unchanged data again
    replaces the earlier result instead of piling up copies of it.
    """

    SCOPE_STUDY = "study"

    study = models.ForeignKey(
        "surveys.Study", on_delete=models.CASCADE, related_name="analysis_runs", verbose_name=_("study")
    )
    scope = models.CharField(
        max_length=40,
        default=SCOPE_STUDY,
        help_text=_('"study", or "wave:<id>" for one wave.'),
        verbose_name=_("scope"),
    )
    parameters = models.JSONField(default=dict, blank=True, verbose_name=_("parameters"))
    inputs_fingerprint = models.CharField(max_length=64, blank=True, verbose_name=_("inputs fingerprint"))
    result = models.JSONField(null=True, blank=True, verbose_name=_("result"))
    reason = models.CharField(max_length=200, blank=True, verbose_name=_("reason"))
    stale_since = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("When answers this result used were withdrawn; it is shown, marked, until a fresh one is done."),
        verbose_name=_("out of date since"),
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="analysis_runs",
        verbose_name=_("requested by"),
    )
    objects = AnalysisRunQuerySet.as_manager()

    class Meta:
        verbose_name = _("analysis run")
        verbose_name_plural = _("analysis runs")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["study", "status", "-created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["study", "scope", "inputs_fingerprint"],
                condition=models.Q(status="done"),
                name="analysis_run_one_done_per_inputs",
            ),
            models.CheckConstraint(condition=models.Q(progress__lte=100), name="analysis_run_progress_max_100"),
        ]

    def __str__(self) -> str:
        return f"analysis {self.pk} of {self.study_id} ({self.status})"

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None
