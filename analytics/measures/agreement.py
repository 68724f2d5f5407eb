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


def coincidences(counts: np.ndarray) -> np.ndarray:
    """Krippendorff's coincidences contributed by each unit: (..., units, values, values).

    o_u[c, k] = (n_uc n_uk − [c = k] n_uc) / (m_u − 1) for a unit with m_u ≥ 2 pairable values,
    zero otherwise; the coincidence matrix of the data is their sum over units.
    """
    counts = np.asarray(counts, dtype=np.float64)
    m = counts.sum(axis=-1)
    outer = counts[..., :, None] * counts[..., None, :]
    outer -= np.einsum("...c,cd->...cd", counts, np.eye(counts.shape[-1]))
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(m >= 2, 1.0 / np.where(m >= 2, m - 1.0, 1.0), 0.0)
    return outer * scale[..., None, None]


def alpha_from_coincidences(o: np.ndarray, domain: np.ndarray) -> np.ndarray:
    """Ordinal alpha from coincidence matrices (..., values, values); nan where undefined.

    δ²(c, k) = (Σ_{g=c..k} n_g − (n_c + n_k) / 2)² with n_c the coincidence margins, and
    alpha = 1 − (n − 1) Σ o_ck δ²_ck / Σ n_c n_k δ²_ck, as the krippendorff package computes it.
    """
    del domain  # the ordinal metric depends on the order of the values only
    n_c = o.sum(axis=-1)
    n = n_c.sum(axis=-1)
    cum = np.cumsum(n_c, axis=-1)
    # Σ_{g=c..k} n_g for c ≤ k is cum[k] − cum[c] + n_c; the metric is symmetric.
    lo = np.minimum.outer(np.arange(n_c.shape[-1]), np.arange(n_c.shape[-1]))
    hi = np.maximum.outer(np.arange(n_c.shape[-1]), np.arange(n_c.shape[-1]))
    between = np.take(cum, hi, axis=-1) - np.take(cum, lo, axis=-1) + np.take(n_c, lo, axis=-1)
    delta = (between - (n_c[..., :, None] + n_c[..., None, :]) / 2.0) ** 2
    observed = (o * delta).sum(axis=(-1, -2))
    expected = (n_c[..., :, None] * n_c[..., None, :] * delta).sum(axis=(-1, -2))
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha = 1.0 - (n - 1.0) * observed / expected
    return np.where(expected > 0, alpha, np.nan)


def alpha_cis(
    values: np.ndarray,
    memberships: np.ndarray,
    scale_min: int,
    scale_max: int,
    n_boot: int,
    rng: np.random.Generator,
    level: float = 0.95,
    points: tuple[float | None, list[float | None]] | None = None,
) -> list[tuple[float | None, float | None]]:
    """Percentile bootstrap intervals of ordinal alpha, overall then within each group.

    ``points`` is what ``alphas`` returns for the same data, when the caller has it already.

    Sites (the units of alpha) are resampled with replacement, the raters kept: alpha depends on
    the data only through the coincidences each unit contributes, so a resample is a weighted sum
    of them. Resampling raters instead would pair a duplicated rater with their own copy and
    fake agreement. The interval therefore says how much alpha depends on which streets were
    shown, not on which residents happened to take part. (None, None) where alpha is undefined.
    """
    domain = np.arange(int(scale_min), int(scale_max) + 1, dtype=np.float64)
    groups = memberships.shape[1]
    empty: list[tuple[float | None, float | None]] = [(None, None)] * (groups + 1)
    observed = ~np.isnan(values)
    if n_boot <= 0 or domain.size < 2 or not np.isin(values[observed], domain).all() or values.shape[1] == 0:
        return empty
    overall, per_group = points if points is not None else alphas(values, memberships, scale_min, scale_max)
    n_people, n_sites = values.shape
    idx = np.where(observed, values - domain[0], 0).astype(np.intp)
    onehot = np.zeros((n_people, n_sites, domain.size))
    people, sites = np.nonzero(observed)
    onehot[people, sites, idx[people, sites]] = 1.0
    who = np.hstack([np.ones((n_people, 1)), memberships.astype(np.float64)])
    counts = (who.T @ onehot.reshape(n_people, -1)).reshape(groups + 1, n_sites, domain.size)
    per_unit = coincidences(counts).reshape(groups + 1, n_sites, -1)  # who × sites × V²
    draws = rng.integers(0, n_sites, size=(n_boot, n_sites))
    weights = np.zeros((n_boot, n_sites))
    np.add.at(weights, (np.repeat(np.arange(n_boot), n_sites), draws.reshape(-1)), 1.0)
    tail = (1.0 - level) / 2.0 * 100.0
    out = []
    for w, point in enumerate([overall, *per_group]):
        if point is None:
            out.append((None, None))
            continue
        o = (weights @ per_unit[w]).reshape(n_boot, domain.size, domain.size)
        replicates = alpha_from_coincidences(o, domain)
        replicates = replicates[~np.isnan(replicates)]
        if replicates.size == 0:
            out.append((None, None))
            continue
        low, high = np.percentile(replicates, [tail, 100.0 - tail])
        out.append((float(low), float(high)))
    return out
