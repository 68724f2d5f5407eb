"""Variance components of the ratings of one criterion in one wave, with a rater random effect.

The model, for rating y of participant i at site s:

    y_is = site_s + Σ_g m_ig (β_g + γ_gs) + u_i + e_is,   u_i ~ (0, σ_u²), e_is ~ (0, σ_e²)

with m_ig the (overlapping) group memberships. Four components, on the rating scale squared:

- ``group_variance``: the variance over the ratings of the fitted additive group shift Σ_g m_ig β̂_g,
  from least squares on site + group indicators (groups that rate everything higher or lower);
- ``group_site_variance``: the variance over the ratings of the fitted group × site part, i.e. of
  fitted(site + group × site) − fitted(site + group) (groups that rate *different streets*
  differently); site + group × site spans site + group + group × site, and it splits by site;
- ``rater_variance`` σ_u²: individual leniency beyond group and site, and
- ``residual_variance`` σ_e², both by Henderson's method III (fitting constants) given the fixed
  part site + group × site. This method of moments is closed form and equals the REML estimate
  of a mixed model with a rater random intercept when every participant rates every site (and
  the estimate is positive); a numerical REML fit (statsmodels MixedLM) takes minutes at 5,000
  participants and cannot be repeated for a permutation test, which is why it is not used here.

The two group components are variances of fitted values, as in the Nakagawa–Schielzeth R²: with
few raters per group they also absorb noise, so their change between waves is judged by a paired
permutation test (``component_changes``), not by eye. Shares divide by the sum of the four.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data import active_rows
from .longitudinal import swap_masks

# Relative singular-value cut-off: collinear columns (complementary groups, a group equal to
# the raters of a site) count as one rank, not two.
RCOND = 1e-10
RIDGE = 1e-11
# A permuted change this close to the observed one counts as "at least as extreme" (rounding).
TIE_TOLERANCE = 1e-12
_CHUNK = 128


@dataclass(frozen=True)
class Components:
    group: float | None
    group_site: float | None
    rater: float | None
    residual: float | None
    n_observations: int

    def shares(self) -> dict[str, float | None]:
        parts = {"group": self.group, "group_site": self.group_site, "rater": self.rater, "residual": self.residual}
        if any(v is None for v in parts.values()):
            return dict.fromkeys(parts)
        clipped = {k: max(float(v), 0.0) for k, v in parts.items()}
        total = sum(clipped.values())
        return {k: (v / total if total > 0 else None) for k, v in clipped.items()}


def _design(memberships: np.ndarray) -> np.ndarray:
    """Per participant the within-site columns [1, m_i1, …, m_iG]."""
    return np.hstack([np.ones((memberships.shape[0], 1)), memberships.astype(np.float64)])


def site_sums(values: np.ndarray, memberships: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-site sufficient statistics: Σ a aᵀ (sites × (G+1) × (G+1)), Σ a y (sites × (G+1)) and
    Σ y² (sites), summed over the raters of each site, a_i = [1, m_i]."""
    observed = ~np.isnan(values)
    a = _design(memberships)
    y0 = np.nan_to_num(values)
    # Σ a aᵀ over a site's raters only depends on how many raters of each membership pattern
    # rated it (6 groups give at most 64 patterns): counts × pattern outer products, exact
    # integers as a sum over raters would be, with no raters × sites × width temporary.
    patterns, pattern_of = np.unique(memberships.astype(bool), axis=0, return_inverse=True)
    pattern_of = pattern_of.reshape(-1)
    n_patterns, n_sites = len(patterns), observed.shape[1]
    people, sites = np.nonzero(observed)
    counts = np.bincount(pattern_of[people] * n_sites + sites, minlength=n_patterns * n_sites)
    counts = counts.reshape(n_patterns, n_sites).astype(np.float64)
    a_p = _design(patterns)
    gram = np.einsum("ps,pj,pk->sjk", counts, a_p, a_p)
    cross = y0.T @ a
    return gram, cross, (y0**2).sum(axis=0)


def _solve(gram: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Least-squares coefficients for stacked normal equations.

    A ridge of RIDGE × the mean diagonal makes singular systems (complementary groups, a group
    with no rater at a site) solvable by one batched LU solve, far cheaper than a pseudo-inverse
    per system; it changes fitted values by a relative amount of order RIDGE × (largest / smallest
    eigenvalue), below 1e-6 for any count of ratings under 10,000 per site.
    """
    width = gram.shape[-1]
    scale = np.trace(gram, axis1=-2, axis2=-1)[..., None, None] / width
    ridge = RIDGE * np.where(scale > 0, scale, 1.0) * np.eye(width)
    return np.linalg.solve(gram + ridge, rhs[..., None])[..., 0]


def fixed_components(gram: np.ndarray, cross: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(group_variance, group_site_variance) from per-site sums, batched over leading axes.

    gram: (..., sites, G+1, G+1), cross: (..., sites, G+1). Fitted values are unique even where
    the coefficients are not, so the pseudo-inverse gives the least-squares fit in every case.
    """
    n_site = gram[..., 0, 0]  # raters per site
    n_obs = n_site.sum(axis=-1)
    m_sum = gram[..., 0, 1:]  # Σ m over the raters of a site: (..., sites, G)
    mm = gram[..., 1:, 1:]
    y_sum = cross[..., 0]
    my = cross[..., 1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        inv_n = np.where(n_site > 0, 1.0 / np.where(n_site > 0, n_site, 1.0), 0.0)
    # Site + group (additive): sweep the site means (Frisch–Waugh–Lovell).
    gram_add = (mm - m_sum[..., :, None] * m_sum[..., None, :] * inv_n[..., None, None]).sum(axis=-3)
    rhs_add = (my - m_sum * (y_sum * inv_n)[..., None]).sum(axis=-2)
    beta = _solve(gram_add, rhs_add)  # (..., G)
    shift_sum = np.einsum("...sg,...g->...", m_sum, beta)
    shift_sq = np.einsum("...g,...gh,...h->...", beta, mm.sum(axis=-3), beta)
    with np.errstate(invalid="ignore", divide="ignore"):
        group_var = shift_sq / n_obs - (shift_sum / n_obs) ** 2
    # Site + group × site: one small regression per site on [1, m].
    coef = _solve(gram, cross)  # (..., sites, G+1)
    site_shift_mean = np.einsum("...sg,...g->...s", m_sum, beta) * inv_n
    slopes = np.broadcast_to(beta[..., None, :], m_sum.shape)
    additive = np.concatenate([(y_sum * inv_n - site_shift_mean)[..., None], slopes], axis=-1)
    delta = coef - additive
    interaction_sq = (delta * (gram @ delta[..., None])[..., 0]).sum(axis=(-1, -2))
    with np.errstate(invalid="ignore", divide="ignore"):
        group_site_var = interaction_sq / n_obs
    return group_var, group_site_var


def variance_components(values: np.ndarray, memberships: np.ndarray) -> Components:
    """The four components of one participants × sites matrix (see the module docstring)."""
    active = active_rows(values)
    values, memberships = values[active], memberships[active]
    observed = ~np.isnan(values)
    n_obs = int(observed.sum())
    n_raters = int(values.shape[0])
    if n_obs == 0 or n_raters < 2:
        return Components(None, None, None, None, n_obs)
    gram, cross, y_sq = site_sums(values, memberships)
    group_var, group_site_var = (float(v) for v in fixed_components(gram, cross))
    # RSS and rank of the fixed part X = site + group × site (one regression per site).
    coef = _solve(gram, cross)
    rss_x = float(y_sq.sum() - np.einsum("sj,sj->", coef, cross))
    rank_x = int(sum(np.linalg.matrix_rank(g, rtol=RCOND, hermitian=True) for g in gram if g[0, 0] > 0))
    # RSS of X plus rater dummies: sweep the rater means (Frisch–Waugh–Lovell).
    a = _design(memberships)
    obs = observed.astype(np.float64)
    y0 = np.nan_to_num(values)
    n_i = obs.sum(axis=1)
    f = (obs[:, :, None] * a[:, None, :]).reshape(n_raters, -1)  # Σ_s x over a rater's ratings
    block = np.zeros((gram.shape[0] * a.shape[1],) * 2)
    width = a.shape[1]
    for s in range(gram.shape[0]):
        block[s * width : (s + 1) * width, s * width : (s + 1) * width] = gram[s]
    gram_xz = block - (f / n_i[:, None]).T @ f
    y_rater = y0.sum(axis=1)
    rhs_xz = cross.reshape(-1) - f.T @ (y_rater / n_i)
    b, _, rank_within, _ = np.linalg.lstsq(gram_xz, rhs_xz, rcond=RCOND)
    rss_within = float((y_sq.sum() - (y_rater**2 / n_i).sum()) - b @ rhs_xz)
    rank_xz = n_raters + int(rank_within)
    df_e = n_obs - rank_xz
    df_x = n_obs - rank_x
    if df_e <= 0 or df_x <= 0:
        return Components(group_var, group_site_var, None, None, n_obs)
    residual = max(rss_within, 0.0) / df_e
    # E[RSS_X − RSS_XZ] = σ_e² (rank_XZ − rank_X) + σ_u² tr(Zᵀ M_X Z), and because X splits by
    # site, tr(Zᵀ M_X Z) = N − rank_X.
    rater = (rss_x - rss_within - residual * (rank_xz - rank_x)) / df_x
    return Components(group_var, group_site_var, float(rater), float(residual), n_obs)


@dataclass(frozen=True)
class ComponentChange:
    group_delta: float | None
    group_p_value: float | None
    group_site_delta: float | None
    group_site_p_value: float | None
    n_paired: int


def component_change(
    earlier: np.ndarray,
    later: np.ndarray,
    memberships: np.ndarray,
    n_perm: int,
    rng: np.random.Generator,
) -> ComponentChange:
    """Change (later − earlier) of the two group components with paired swap p-values.

    Under the null that a participant's two waves are exchangeable, swapping them leaves the
    distribution unchanged; only participants who answered both waves are swapped. Every
    component is a function of per-site sums, and a swap moves one participant's contribution
    to those sums from one wave to the other, so all permutations are one matrix product.
    """
    both = active_rows(earlier) & active_rows(later)
    gram_a, cross_a, _ = site_sums(earlier, memberships)
    gram_b, cross_b, _ = site_sums(later, memberships)
    c0 = fixed_components(gram_a, cross_a)
    c1 = fixed_components(gram_b, cross_b)
    deltas = np.array([c1[0] - c0[0], c1[1] - c0[1]], dtype=np.float64)
    n_paired = int(both.sum())
    if not np.isfinite(deltas).all():
        return ComponentChange(None, None, None, None, n_paired)
    if n_perm <= 0 or n_paired == 0:
        return ComponentChange(float(deltas[0]), None, float(deltas[1]), None, n_paired)
    # A swap moves a participant's ratings, and a participant's design row a_i = [1, m_i] is
    # fixed, so the moved sums are Σ_p a_p a_pᵀ · (moved rating counts of pattern p at s) and
    # Σ_p a_p · (moved rating sums of pattern p at s), over the distinct membership patterns p.
    patterns, pattern_of = np.unique(memberships[both], axis=0, return_inverse=True)
    pattern_of = pattern_of.reshape(-1)
    a = _design(patterns)
    outer = a[:, :, None] * a[:, None, :]
    # Paired participants sorted by pattern, so each pattern is one contiguous block of coins.
    by_pattern = np.argsort(pattern_of, kind="stable")
    bounds = np.searchsorted(pattern_of[by_pattern], np.arange(len(patterns) + 1))
    e, later_rows = earlier[both][by_pattern], later[both][by_pattern]
    # Counts and integer ratings moved are small integers, exact in float32.
    moved_n = (~np.isnan(later_rows)).astype(np.float32) - (~np.isnan(e)).astype(np.float32)
    moved_y = np.nan_to_num(later_rows) - np.nan_to_num(e)
    exact32 = bool(np.all(moved_y == np.rint(moved_y))) and float(np.abs(moved_y).max(initial=0)) * n_paired < 2**24
    moved_y = moved_y.astype(np.float32 if exact32 else np.float64)
    exceed = np.zeros(2)
    n_sites, width = earlier.shape[1], a.shape[1]
    for start in range(0, n_perm, _CHUNK):
        size = min(_CHUNK, n_perm - start)
        coins = swap_masks(n_paired, size, rng)
        shift_n = np.empty((size, len(patterns), n_sites))
        shift_y = np.empty((size, len(patterns), n_sites))
        for p in range(len(patterns)):
            chosen = coins[:, bounds[p] : bounds[p + 1]]
            shift_n[:, p] = chosen @ moved_n[bounds[p] : bounds[p + 1]]
            shift_y[:, p] = chosen @ moved_y[bounds[p] : bounds[p + 1]]
        gram_shift = (shift_n.transpose(0, 2, 1) @ outer.reshape(len(patterns), -1)).reshape(
            size, n_sites, width, width
        )
        cross_shift = shift_y.transpose(0, 2, 1) @ a
        perm_a = np.stack(fixed_components(gram_a + gram_shift, cross_a + cross_shift), axis=-1)
        perm_b = np.stack(fixed_components(gram_b - gram_shift, cross_b - cross_shift), axis=-1)
        diff = np.nan_to_num(np.abs(perm_b - perm_a), nan=-1.0)
        exceed += (diff >= np.abs(deltas) - TIE_TOLERANCE).sum(axis=0)
    p = (1.0 + exceed) / (1.0 + n_perm)
    return ComponentChange(float(deltas[0]), float(p[0]), float(deltas[1]), float(p[1]), n_paired)
