"""The audit log's reactions to events other apps announce."""

from __future__ import annotations

from django.dispatch import receiver

from surveys.signals import participant_withdrawn, study_role_changed

from .models import AuditLog
from .services import audit_record


@receiver(participant_withdrawn, dispatch_uid="exports.participant_withdrawn")
def _audit_withdrawal(sender, *, study, had_answers: bool, **kwargs) -> None:
    # No identifier is kept: the entry says that a participant withdrew, not who.
    audit_record(
        action=AuditLog.Action.PARTICIPANT_WITHDRAWN,
        study=study,
        details={"answers_deleted": had_answers},
    )


@receiver(study_role_changed, dispatch_uid="exports.study_role_changed")
def _audit_role_change(sender, *, study, actor, user_id: int, granted=None, removed=None, **kwargs) -> None:
    details = {"granted": granted} if granted else {"removed": removed}
    audit_record(
        action=AuditLog.Action.ROLE_CHANGED, actor=actor, study=study, target=f"user:{user_id}", details=details
    )
