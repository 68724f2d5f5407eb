"""Reads other apps make of negotiation results."""

from __future__ import annotations

from .models import Outcome


def outcome_latest(study) -> Outcome | None:
    """The study's most recent negotiation outcome (simulated or live), with its session and
    scenario loaded; None when no session has finished."""
    return (
        Outcome.objects.filter(session__scenario__study=study)
        .select_related("session__scenario")
        .order_by("-created_at", "-id")
        .first()
    )
