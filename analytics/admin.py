"""The admin view of analysis runs (read-only: runs are written by the service), and the wave
admin's "Close wave and analyse"."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from surveys.admin import WaveAdmin

from .models import AnalysisRun
from .services import wave_close


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


@admin.action(description=_("Close wave and analyse"))
def close_and_analyse(modeladmin, request, queryset):
    waves = list(queryset.select_related("study"))
    for wave in waves:
        wave_close(wave=wave, requested_by=request.user)
    message = ngettext(
        "Closed %(n)d wave; the analysis was requested.", "Closed %(n)d waves; the analysis was requested.", len(waves)
    ) % {"n": len(waves)}
    modeladmin.message_user(request, message, messages.SUCCESS)


# Closing a wave is the survey's; analysing it is ours, so the action is added from here.
WaveAdmin.actions = [*WaveAdmin.actions, close_and_analyse]
