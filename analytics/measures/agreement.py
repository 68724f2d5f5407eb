"""Krippendorff's alpha (ordinal) over a participants × sites matrix."""

from __future__ import annotations

import krippendorff
import numpy as np


def _has_pairable_values(values: np.ndarray) -> bool:
    """Alpha needs at least one site rated by two participants."""
    return bool(((~np.isnan(values)).sum(axis=0) >= 2).any())


def ordinal_alpha(values: np.ndarray, scale_min: int, scale_max: int) -> float | None:
    """Ordinal alpha with the study's whole scale as value domain; None when undefined.

    Reliability data for the package is raters × units, which is exactly participants × sites.
    Alpha is undefined with fewer than two raters, with no pairable values, or when every
    rating is identical (no expected disagreement), and we report None rather than a nan.
    """
    rows = values[~np.all(np.isnan(values), axis=1)]
    if rows.shape[0] < 2 or not _has_pairable_values(rows):
        return None
    observed = rows[~np.isnan(rows)]
    if np.unique(observed).size < 2:
        return None
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha = krippendorff.alpha(
            reliability_data=rows,
            level_of_measurement="ordinal",
            value_domain=list(range(int(scale_min), int(scale_max) + 1)),
        )
    return None if not np.isfinite(alpha) else float(alpha)


def group_alphas(
    values: np.ndarray, memberships: np.ndarray, scale_min: int, scale_max: int
) -> list[float | None]:
    """Alpha within each group, computed on the members' rows only."""
    return [
        ordinal_alpha(values[memberships[:, g]], scale_min, scale_max)
        for g in range(memberships.shape[1])
    ]
