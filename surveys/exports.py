"""CSV helpers shared by the admin action and the invitation command."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from .services import IssuedInvitation

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value) -> str:
    """Neutralises spreadsheet formula injection: cells starting with = + - @ tab or CR get a
    leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


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
