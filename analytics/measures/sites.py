"""Per-site means overall and by group, and the worst-off group at each site."""

from __future__ import annotations

import numpy as np


def site_summaries(
    values: np.ndarray,
    memberships: np.ndarray,
    site_codes: tuple[str, ...],
    groups: tuple[str, ...],
) -> list[dict]:
    """For each site: overall mean, each group's mean and the group with the lowest mean.

    Dashboards always show the worst-off group next to the total, so it is computed here once.
    Groups without a rating at a site get None and cannot be the worst group there.
    """
    observed = (~np.isnan(values)).astype(float)
    x0 = np.nan_to_num(values)
    m = memberships.astype(float)
    counts, sums = observed.sum(axis=0), x0.sum(axis=0)
    g_counts, g_sums = m.T @ observed, m.T @ x0
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / counts, np.nan)
        g_means = np.where(g_counts > 0, g_sums / g_counts, np.nan)
    return [_site_entry(s, code, counts, means, g_means, groups) for s, code in enumerate(site_codes)]


def _site_entry(
    s: int,
    code: str,
    counts: np.ndarray,
    means: np.ndarray,
    g_means: np.ndarray,
    groups: tuple[str, ...],
) -> dict:
    column = g_means[:, s] if g_means.size else np.array([])
    rated = ~np.isnan(column)
    worst = int(np.argmin(np.where(rated, column, np.inf))) if rated.any() else None
    return {
        "site": code,
        "n": int(counts[s]),
        "mean": means[s],
        "worst_group": groups[worst] if worst is not None else None,
        "worst_group_mean": column[worst] if worst is not None else None,
        "group_means": {name: column[g] for g, name in enumerate(groups)},
    }
