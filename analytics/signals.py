"""Reactions of the analyses to events the survey announces."""

from __future__ import annotations

from django.dispatch import receiver

from surveys.signals import participant_withdrawn

from .services import analysis_mark_stale

WITHDRAWAL_REASON = "a participant withdrew"


@receiver(participant_withdrawn, dispatch_uid="analytics.participant_withdrawn")
def _refresh_results_after_withdrawal(sender, *, study, had_answers: bool, **kwargs) -> None:
    # A participant without answers contributed nothing to any result: nothing changes.
    if had_answers:
        analysis_mark_stale(study=study, reason=WITHDRAWAL_REASON)
