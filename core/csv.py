"""CSV cells that are safe to open in a spreadsheet; every CSV Civic writes goes through this."""

from __future__ import annotations

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value) -> str:
    """Neutralises spreadsheet formula injection: cells starting with = + - @ tab or CR get a
    leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text
