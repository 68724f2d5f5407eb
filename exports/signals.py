"""The audit log's reactions to events other apps announce."""

from __future__ import annotations

from django.dispatch import receiver

from surveys.signals import participant_withdrawn

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
