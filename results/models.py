"""The public "what we heard" page of a study: what a planner published, frozen at publish time.

The page shows a snapshot, not the live analysis, so a later analysis never changes a published
page silently; publishing again replaces the snapshot. The snapshot holds only what the page
shows — figures of groups of at least the study's k, in both languages — and nothing about a
smaller group or a single resident (see services.results_snapshot_build).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ResultsPage(models.Model):
    study = models.OneToOneField(
        "surveys.Study", on_delete=models.CASCADE, related_name="results_page", verbose_name=_("study")
    )
    snapshot = models.JSONField(
        default=dict, blank=True, help_text=_("What the public page shows, as published."), verbose_name=_("snapshot")
    )
    published = models.BooleanField(default=False, verbose_name=_("published"))
    published_at = models.DateTimeField(null=True, blank=True, verbose_name=_("published at"))
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("published by"),
    )
    stale_since = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("When a resident withdrew after publication; publishing again from a fresh analysis clears it."),
        verbose_name=_("out of date since"),
    )

    class Meta:
        verbose_name = _("public results page")
        verbose_name_plural = _("public results pages")

    def __str__(self) -> str:
        return f"results page of {self.study_id} ({'published' if self.published else 'not published'})"
