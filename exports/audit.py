"""The append-only audit log: who did what to which study, when.

Every app writes here (exports, role changes, withdrawals); entries are only ever inserted.
"""

from __future__ import annotations

from surveys.models import Study

from .models import AuditLog

Action = AuditLog.Action


def audit_record(
    *,
    action: str,
    actor=None,
    study: Study | None = None,
    study_slug: str = "",
    target: str = "",
    details: dict | None = None,
) -> AuditLog:
    """Appends one entry to the audit log. Other apps call this for role changes and
    withdrawals too (actions `role.changed`, `participant.withdrawn`)."""
    if actor is not None and not actor.is_authenticated:
        actor = None
    return AuditLog.objects.create(
        actor=actor,
        actor_name=actor.get_username() if actor is not None else "",
        action=action,
        study=study,
        study_slug=study.slug if study is not None else study_slug[:50],
        target=target[:100],
        details=details or {},
    )
