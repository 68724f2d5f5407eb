"""Anonymised export jobs and the append-only audit log."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.jobs import Job

ERROR_APPEND_ONLY = "The audit log is append-only: entries cannot be changed or deleted."


class ExportJobQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status__in=ExportJob.ACTIVE)

    def for_requester(self, *, study, user):
        """The exports a user asked for on a study, newest first: what their page lists."""
        return self.filter(study=study, requested_by=user).order_by("-created_at", "-id")


class ExportJob(Job):
    """One anonymised export of a study: the request, its progress and the resulting zip.

    The zip lives under `settings.PRIVATE_ROOT` (never under MEDIA_ROOT, so no URL reaches it)
    with a server-generated random name; only the download view hands it out, and only to
    `requested_by`, until `expires_at`.
    """

    study = models.ForeignKey(
        "surveys.Study", on_delete=models.CASCADE, related_name="export_jobs", verbose_name=_("study")
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="export_jobs",
        help_text=_("Empty for command-line exports, which nobody can download."),
        verbose_name=_("requested by"),
    )
    file_name = models.CharField(max_length=80, blank=True, editable=False, verbose_name=_("file name"))
    size = models.BigIntegerField(null=True, blank=True, verbose_name=_("size"))
    summary = models.JSONField(default=dict, blank=True, verbose_name=_("summary"))
    expires_at = models.DateTimeField(null=True, blank=True, verbose_name=_("expires at"))
    deleted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("deleted at"))

    objects = ExportJobQuerySet.as_manager()

    class Meta:
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["study", "requested_by", "-created_at"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(progress__lte=100), name="export_job_progress_max_100")
        ]

    def __str__(self) -> str:
        return f"export {self.pk} of {self.study_id} ({self.status})"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_downloadable(self) -> bool:
        return (
            self.status == self.Status.DONE and bool(self.file_name) and self.deleted_at is None and not self.is_expired
        )

    @property
    def path(self) -> Path | None:
        return Path(settings.PRIVATE_ROOT) / self.file_name if self.file_name else None


class AuditLogQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError(ERROR_APPEND_ONLY)

    def delete(self):
        raise PermissionError(ERROR_APPEND_ONLY)


class AuditLog(models.Model):
    """Who did what to which study, when. Rows are only ever inserted.

    The foreign keys carry no database constraint and are never cascaded, so deleting a user
    or a study leaves their history intact; `actor_name` and `study_slug` keep it readable.
    On PostgreSQL a trigger also refuses UPDATE and DELETE (migration 0002).
    """

    class Action(models.TextChoices):
        EXPORT_REQUESTED = "export.requested", _("Export requested")
        EXPORT_BUILT = "export.built", _("Export built")
        EXPORT_FAILED = "export.failed", _("Export failed")
        EXPORT_DOWNLOADED = "export.downloaded", _("Export downloaded")
        EXPORT_DENIED = "export.denied", _("Export download denied")
        EXPORT_DELETED = "export.deleted", _("Export deleted")
        ROLE_CHANGED = "role.changed", _("Role changed")
        PARTICIPANT_WITHDRAWN = "participant.withdrawn", _("Participant withdrawn")
        RESULTS_PUBLISHED = "results.published", _("Public results published")
        RESULTS_UNPUBLISHED = "results.unpublished", _("Public results withdrawn from view")

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    actor_name = models.CharField(max_length=150, blank=True, verbose_name=_("actor name"))
    action = models.CharField(max_length=40, choices=Action.choices, db_index=True, verbose_name=_("action"))
    study = models.ForeignKey(
        "surveys.Study",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("study"),
    )
    study_slug = models.CharField(max_length=50, blank=True, verbose_name=_("study short name"))
    target = models.CharField(max_length=100, blank=True, verbose_name=_("target"))
    details = models.JSONField(default=dict, blank=True, verbose_name=_("details"))
    at = models.DateTimeField(default=timezone.now, db_index=True, verbose_name=_("at"))

    objects = AuditLogQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log")
        ordering = ["-at", "-id"]
        default_permissions = ("add", "view")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name or '-'} {self.action} {self.target}"

    def save(self, *args, **kwargs):
        # An integrity guard rather than business logic: an existing entry is never rewritten.
        if not self._state.adding:
            raise PermissionError(ERROR_APPEND_ONLY)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError(ERROR_APPEND_ONLY)
