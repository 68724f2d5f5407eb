"""Between-group vs within-group variance from two nested least-squares models.

Long-format ratings (observed cells only) are regressed on site fixed effects (sites-only model)
and on site fixed effects plus one indicator column per group (full model):

    between_group_variance = residual MS(sites only) − residual MS(full)
    within_group_variance  = residual MS(full)
    between_group_share    = between / (between + within), clipped to [0, 1]

with residual MS = RSS / (N − rank). Instead of a dense N × (sites + groups) design we use the
Frisch–Waugh–Lovell theorem: after removing site means from the ratings and from the group
columns, the group part is a tiny groups × groups least-squares problem whose cross-products come
straight from per-site counts. This keeps 100k+ observations well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Relative singular-value cut-off for the groups × groups system. Collinear group columns
# (identical memberships, a group equal to everyone) must count as one rank, not two.
RANK_RCOND = 1e-10


@dataclass(frozen=True)
class VarianceSplit:
    between: float | None
    within: float | None
    share: float | None
    n_observations: int


def variance_split(values: np.ndarray, memberships: np.ndarray) -> VarianceSplit:
    """Split residual variance of ratings into a group part and a within-group part."""
    observed = ~np.isnan(values)
    n_obs = int(observed.sum())
    site_n = observed.sum(axis=0).astype(float)
    rank_sites = int((site_n > 0).sum())
    if n_obs - rank_sites <= 0:
        return VarianceSplit(None, None, None, n_obs)

    # Sites-only model: residuals are deviations from the site means.
    x0 = np.nan_to_num(values)
    site_mean = np.divide(x0.sum(axis=0), site_n, out=np.zeros_like(site_n), where=site_n > 0)
    centred = np.where(observed, values - site_mean, 0.0)
    rss_sites = float((centred**2).sum())

    # Group columns after removing site means (FWL): cross-products from counts per site.
    m = memberships.astype(float)
    obs_f = observed.astype(float)
    per_person = obs_f.sum(axis=1)
    group_site = m.T @ obs_f  # members' ratings per (group, site)
    with np.errstate(invalid="ignore", divide="ignore"):
        site_term = (group_site / np.where(site_n > 0, site_n, 1.0)) @ group_site.T
    gram = (m * per_person[:, None]).T @ m - site_term
    cross = m.T @ centred.sum(axis=1)
    coef, _, rank_groups, _ = np.linalg.lstsq(gram, cross, rcond=RANK_RCOND)
    rss_full = max(rss_sites - float(coef @ cross), 0.0)

    df_sites = n_obs - rank_sites
    df_full = n_obs - rank_sites - int(rank_groups)
    if df_full <= 0:
        return VarianceSplit(None, None, None, n_obs)
    ms_sites = rss_sites / df_sites
    within = rss_full / df_full
    between = ms_sites - within
    total = between + within
    share = float(np.clip(between / total, 0.0, 1.0)) if total > 0 else None
    return VarianceSplit(float(between), float(within), share, n_obs)


def variance_split_dense(values: np.ndarray, memberships: np.ndarray) -> VarianceSplit:
    """Reference implementation with an explicit design matrix (used by tests only)."""
    people, sites = np.nonzero(~np.isnan(values))
    y = values[people, sites]
    n_obs = y.size
    site_cols = np.zeros((n_obs, values.shape[1]))
    site_cols[np.arange(n_obs), sites] = 1.0
    site_cols = site_cols[:, site_cols.any(axis=0)]
    full = np.hstack([site_cols, memberships[people].astype(float)])

    def residual_ms(design: np.ndarray) -> tuple[float, int]:
        coef, _, rank, _ = np.linalg.lstsq(design, y, rcond=None)
        rss = float(((y - design @ coef) ** 2).sum())
        return rss / (n_obs - rank), rank

    ms_sites, _ = residual_ms(site_cols)
    within, _ = residual_ms(full)
    between = ms_sites - within
    share = float(np.clip(between / (between + within), 0.0, 1.0))
    return VarianceSplit(between, within, share, n_obs)
