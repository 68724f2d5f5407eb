"""Admin views of exports and of the audit log. Both are read-only: exports are written by
the service, and the audit log is append-only for everyone, superusers included."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from core.admin import ReadOnlyAdmin

from .models import AuditLog, ExportJob
from .services import export_delete


@admin.register(ExportJob)
class ExportJobAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = (
        "id",
        "study",
        "requested_by",
        "status",
        "progress",
        "size",
        "created_at",
        "expires_at",
        "deleted_at",
    )
    list_filter = ("status", "study")
    readonly_fields = [f.name for f in ExportJob._meta.fields]
    actions = ["delete_files"]

    # Deleting the row would erase the record (ReadOnlyAdmin); the action below deletes the file instead.

    @admin.action(description=_("Delete the files of the selected exports"), permissions=["view"])
    def delete_files(self, request, queryset) -> None:
        for job in queryset.filter(deleted_at__isnull=True).select_related("study"):
            export_delete(job=job, actor=request.user, reason="admin")


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ("at", "actor_name", "action", "study_slug", "target")
    list_filter = ("action", "study_slug")
    search_fields = ("actor_name", "target", "study_slug")
    readonly_fields = (
        "at",
        "actor_id",
        "actor_name",
        "action",
        "study_id",
        "study_slug",
        "target",
        "details",
    )
    fields = readonly_fields

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_staff and super().has_view_permission(request, obj)
