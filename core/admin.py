"""Admin building blocks shared by the apps (core registers no model of its own)."""

from __future__ import annotations


class ReadOnlyAdmin:
    """A record the admin shows and never writes: no adding, changing or deleting, superusers
    included (the services write these rows; some, like the audit log, are append-only)."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
