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


def group_alphas(values: np.ndarray, memberships: np.ndarray, scale_min: int, scale_max: int) -> list[float | None]:
    """Alpha within each group, computed on the members' rows only."""
    return alphas(values, memberships, scale_min, scale_max)[1]


def alphas(
    values: np.ndarray, memberships: np.ndarray, scale_min: int, scale_max: int
) -> tuple[float | None, list[float | None]]:
    """Overall alpha and alpha within each group, from one shared count of values per site.

    The package's alpha depends on the data only through the units × values count matrix, and
    the count matrices of everybody and of every group are one product (memberships × one-hot
    values), so the package is handed value_counts instead of re-counting each group's rows.
    The undefined cases are decided from the same counts, exactly as ordinal_alpha decides them.
    Values outside the integer scale fall back to ordinal_alpha (which lets the package reject
    them as it always did).
    """
    domain = np.arange(int(scale_min), int(scale_max) + 1, dtype=np.float64)
    observed = ~np.isnan(values)
    groups = memberships.shape[1]
    if domain.size < 2 or not np.isin(values[observed], domain).all():
        overall = ordinal_alpha(values, scale_min, scale_max)
        members = [values[memberships[:, g]] for g in range(groups)]
        return overall, [ordinal_alpha(v, scale_min, scale_max) for v in members]
    n_people, n_sites = values.shape
    idx = np.where(observed, values - domain[0], 0).astype(np.intp)
    onehot = np.zeros((n_people, n_sites, domain.size))
    people, sites = np.nonzero(observed)
    onehot[people, sites, idx[people, sites]] = 1.0
    who = np.hstack([np.ones((n_people, 1)), memberships.astype(np.float64)])
    flat = onehot.reshape(n_people, n_sites * domain.size)
    counts = (who.T @ flat).reshape(groups + 1, n_sites, domain.size)
    raters = who.T @ observed.any(axis=1).astype(np.float64)
    results = [_alpha_from_counts(np.rint(c).astype(np.int64), r, domain) for c, r in zip(counts, raters, strict=True)]
    return results[0], results[1:]


def _alpha_from_counts(counts: np.ndarray, raters: float, domain: np.ndarray) -> float | None:
    """ordinal_alpha from a sites × values count matrix and the number of raters."""
    if raters < 2 or not (counts.sum(axis=1) >= 2).any():
        return None
    if int((counts.sum(axis=0) > 0).sum()) < 2:
        return None
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha = krippendorff.alpha(value_counts=counts, level_of_measurement="ordinal", value_domain=domain)
    return None if not np.isfinite(alpha) else float(alpha)
