"""Group divergence with a cluster-level permutation test, and Benjamini–Hochberg q-values.

d(g) = mean over sites s of [mean rating of members of g at s − mean rating of the others at s],
over sites where both sides rated. Every group is handled at once with matrix products
(membership^T @ values), and permutations run in batches, so there is no Python loop over
participants.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Permuted membership matrices are built this many at a time; it bounds memory at roughly
# batch × participants × groups floats while keeping the matrix products large enough to be fast.
PERMUTATION_BATCH = 128

# Floating-point sums of the same numbers in a different order can differ in the last bits;
# a permuted statistic this close to the observed one counts as "at least as extreme".
TIE_TOLERANCE = 1e-12


@dataclass(frozen=True)
class DivergenceResult:
    """Per-group divergence, p-value and group size for one rating matrix."""

    divergence: np.ndarray  # float, shape (n_groups,); nan when not computable
    p_value: np.ndarray  # float, shape (n_groups,); nan when not computable
    n: np.ndarray  # int, members who rated anything


def _split_sums(
    members: np.ndarray, values0: np.ndarray, observed: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sums and counts of ratings per (group, site) for one or many stacked membership matrices."""
    return members.T @ values0, members.T @ observed


def divergence_from_sums(
    sum_in: np.ndarray, cnt_in: np.ndarray, total_sum: np.ndarray, total_cnt: np.ndarray
) -> np.ndarray:
    """d(g) from group sums/counts per site; nan where no site has both sides rated.

    The trailing axis is sites; any leading axes (groups, permutations) are kept.
    """
    cnt_out = total_cnt - cnt_in
    valid = (cnt_in > 0) & (cnt_out > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = sum_in / cnt_in - (total_sum - sum_in) / cnt_out
    diff = np.where(valid, diff, 0.0)
    n_valid = valid.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_valid > 0, diff.sum(axis=-1) / n_valid, np.nan)


def group_divergence(values: np.ndarray, memberships: np.ndarray) -> np.ndarray:
    """Observed divergence of every group (no test); nan for groups with no comparable site."""
    observed = (~np.isnan(values)).astype(float)
    values0 = np.nan_to_num(values)
    sum_in, cnt_in = _split_sums(memberships.astype(float), values0, observed)
    return divergence_from_sums(sum_in, cnt_in, values0.sum(axis=0), observed.sum(axis=0))


def divergence_test(
    values: np.ndarray,
    memberships: np.ndarray,
    n_permutations: int,
    rng: np.random.Generator,
    min_members: int = 2,
) -> DivergenceResult:
    """Divergence of every group and its two-sided permutation p-value.

    Only participants who rated something take part: shuffling labels onto people with no
    ratings would dilute groups with empty rows. Whole membership rows are permuted, so each
    participant keeps all their ratings and the overlap structure of the groups is kept.
    """
    active = ~np.all(np.isnan(values), axis=1)
    x = values[active]
    m = memberships[active].astype(float)
    n = m.sum(axis=0).astype(int)
    observed = (~np.isnan(x)).astype(float)
    x0 = np.nan_to_num(x)
    total_sum, total_cnt = x0.sum(axis=0), observed.sum(axis=0)

    d_obs = divergence_from_sums(*_split_sums(m, x0, observed), total_sum, total_cnt)
    d_obs = np.where(n >= min_members, d_obs, np.nan)
    exceed = _count_exceedances(x0, observed, m, np.abs(d_obs), n_permutations, rng)
    with np.errstate(invalid="ignore"):
        p = np.where(np.isnan(d_obs), np.nan, (1.0 + exceed) / (1.0 + n_permutations))
    return DivergenceResult(divergence=d_obs, p_value=p, n=n)


def _count_exceedances(
    x0: np.ndarray,
    observed: np.ndarray,
    m: np.ndarray,
    abs_obs: np.ndarray,
    n_permutations: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """How many permuted |d| reach the observed |d|, per group."""
    n_people, n_groups = m.shape
    exceed = np.zeros(n_groups)
    if n_people == 0 or n_permutations <= 0 or np.all(np.isnan(abs_obs)):
        return exceed
    dtype = _exact_dtype(x0)
    # Stacking values and counts side by side lets one product give both sums and counts.
    stacked = np.hstack([x0, observed]).astype(dtype)
    members_t = np.ascontiguousarray(m.T, dtype=dtype)
    n_sites = x0.shape[1]
    total_sum, total_cnt = x0.sum(axis=0), observed.sum(axis=0)
    threshold = np.where(np.isnan(abs_obs), np.inf, abs_obs - TIE_TOLERANCE)
    identity = np.arange(n_people, dtype=np.intp)
    done = 0
    while done < n_permutations:
        batch = min(PERMUTATION_BATCH, n_permutations - done)
        order = rng.permuted(np.broadcast_to(identity, (batch, n_people)), axis=1)
        # take() gathers the permuted membership rows as (groups, batch, people) in one pass.
        flat = np.take(members_t, order, axis=1).reshape(n_groups * batch, n_people)
        sums = (flat @ stacked).astype(np.float64).reshape(n_groups, batch, 2 * n_sites)
        d = divergence_from_sums(sums[..., :n_sites], sums[..., n_sites:], total_sum, total_cnt)
        # A permuted group with no comparable site carries no evidence either way.
        exceed += (np.nan_to_num(np.abs(d), nan=-1.0) >= threshold[:, None]).sum(axis=1)
        done += batch
    return exceed


def _exact_dtype(x0: np.ndarray) -> type:
    """float32 when every partial sum is an exactly representable integer, else float64.

    Integer ratings summed over fewer than 2**24 / max|x| people are exact in float32, which
    halves the cost of the permutation products without changing any result.
    """
    integral = bool(np.all(x0 == np.rint(x0)))
    small = float(np.abs(x0).max(initial=0.0)) * x0.shape[0] < 2**24
    return np.float32 if integral and small else np.float64


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg q-values (step-up, monotone, capped at 1); nan inputs stay nan."""
    p = np.asarray(p_values, dtype=float)
    q = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m == 0:
        return q
    order = np.argsort(p[ok], kind="stable")
    ranked = p[ok][order] * m / np.arange(1, m + 1)
    # The running minimum from the largest p downwards makes q monotone in p.
    monotone = np.minimum.accumulate(ranked[::-1])[::-1]
    q_ok = np.empty(m)
    q_ok[order] = np.minimum(monotone, 1.0)
    q[ok] = q_ok
    return q
