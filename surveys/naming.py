"""Names people wrote, and the codes derived from them.

Groups, sites, criteria, waves and images carry the name as written: any printable text up to
NAME_MAX_LENGTH characters, spaces, accents, "+" and apostrophes included. Where a stable
identifier is needed (URLs, form fields, exports' keys), a code is derived from the name: lower
case ASCII letters, digits and dashes, unique within the study. The code is never shown where
the name exists.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable

from django.utils.text import slugify

NAME_MAX_LENGTH = 120
CODE_MAX_LENGTH = 60


def name_problem(name: str) -> str | None:
    """Why `name` cannot be a name (empty, too long, control characters), or None."""
    if not name or not name.strip():
        return "is empty"
    if len(name) > NAME_MAX_LENGTH:
        return f"is {len(name)} characters long; names hold at most {NAME_MAX_LENGTH}"
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        return "holds a control character (a tab, a line break or an invisible character)"
    return None


def name_clean(name: str) -> str:
    """The name as written, without surrounding spaces and with inner runs of spaces kept."""
    return (name or "").strip()


def code_derive(name: str, taken: Iterable[str] = ()) -> str:
    """A slug-like code for `name`, not in `taken`: "Seniors 65+" → "seniors-65", "Aînés" →
    "aines"; a name with no Latin letter or digit gets a short digest; clashes get "-2", "-3"…"""
    taken = set(taken)
    base = slugify(unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode())
    if "+" in (name or "") and base:
        base = f"{base}-plus"
    if not base:
        base = "n-" + hashlib.sha256((name or "").encode()).hexdigest()[:8]
    base = base[: CODE_MAX_LENGTH - 4].strip("-") or "n"
    code, n = base, 1
    while code in taken:
        n += 1
        code = f"{base}-{n}"
    return code
