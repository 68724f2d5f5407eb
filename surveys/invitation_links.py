"""Invitation links as CSV, for the admin action and the create_invitations command."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from core.csv import csv_safe

from .services import IssuedInvitation


def invitation_links_csv(issued: Iterable[IssuedInvitation], *, base_url: str) -> str:
    base = base_url.rstrip("/")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["participant", "link", "expires"])
    for item in issued:
        writer.writerow(
            [
                csv_safe(item.invitation.participant.code),
                csv_safe(base + item.path),
                item.invitation.expires_at.date().isoformat(),
            ]
        )
    return out.getvalue()
