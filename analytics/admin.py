"""The admin view of analysis runs: read-only, since runs are written by the service."""

from __future__ import annotations

from django.contrib import admin

from .models import AnalysisRun


@admin.register(AnalysisRun)
class AnalysisRunAdmin(admin.ModelAdmin):
    list_display = ("id", "study", "scope", "status", "progress", "created_at", "finished_at")
    list_filter = ("status", "study")
    readonly_fields = (
        "study",
        "scope",
        "status",
        "progress",
        "parameters",
        "inputs_fingerprint",
        "error",
        "reason",
        "requested_by",
        "attempts",
        "created_at",
        "enqueued_at",
        "started_at",
        "finished_at",
    )
    exclude = ("result",)

    def has_add_permission(self, request) -> bool:
        # Runs are created by the service, which also enqueues them; a bare row would never run.
        return False
