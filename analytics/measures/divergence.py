"""Group divergence with a cluster-level permutation test, and Benjamini–Hochberg q-values.

d(g) = mean over sites s of [mean rating of members of g at s − mean rating of the others at s],
over sites where both sides rated. Every group is handled at once with matrix products
(membership^T @ values), and permutations run in batches, so there is no Python loop over
participants.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data import active_rows, classes_by_rows

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


def _split_sums(members: np.ndarray, values0: np.ndarray, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
    return divergence_tests([values], memberships, n_permutations, rng, min_members)[0]


def divergence_tests(
    matrices: list[np.ndarray],
    memberships: np.ndarray,
    n_permutations: int,
    rng: np.random.Generator,
    min_members: int = 2,
) -> list[DivergenceResult]:
    """divergence_test for several matrices over the same participants (the criteria of a wave).

    One set of random permutations serves every matrix. Each permutation is drawn over the
    participants who rated any of the matrices; a matrix rated by fewer people uses the order in
    which its own raters appear in that permutation, which is again a uniformly random
    permutation of exactly its raters. Matrices with the same raters share one product per batch.
    """
    actives = [active_rows(v) for v in matrices]
    results: list[DivergenceResult] = []
    for values, active in zip(matrices, actives, strict=True):
        m = memberships[active].astype(float)
        x = values[active]
        observed = (~np.isnan(x)).astype(float)
        x0 = np.nan_to_num(x)
        d_obs = divergence_from_sums(*_split_sums(m, x0, observed), x0.sum(0), observed.sum(0))
        n = m.sum(axis=0).astype(int)
        d_obs = np.where(n >= min_members, d_obs, np.nan)
        results.append(DivergenceResult(divergence=d_obs, p_value=d_obs * np.nan, n=n))
    tested = [i for i, r in enumerate(results) if not np.all(np.isnan(r.divergence))]
    exceed = {i: np.zeros(memberships.shape[1]) for i in tested}
    if n_permutations > 0 and tested:
        _count_exceedances(matrices, actives, memberships, results, tested, exceed, n_permutations, rng)
    for i in tested:
        d_obs = results[i].divergence
        with np.errstate(invalid="ignore"):
            p = np.where(np.isnan(d_obs), np.nan, (1.0 + exceed[i]) / (1.0 + n_permutations))
        results[i] = DivergenceResult(divergence=d_obs, p_value=p, n=results[i].n)
    return results


def _count_exceedances(
    matrices: list[np.ndarray],
    actives: list[np.ndarray],
    memberships: np.ndarray,
    results: list[DivergenceResult],
    tested: list[int],
    exceed: dict[int, np.ndarray],
    n_permutations: int,
    rng: np.random.Generator,
) -> None:
    """Add to ``exceed`` how many permuted |d| reach each observed |d| (per matrix and group)."""
    union = np.logical_or.reduce([actives[i] for i in tested])
    classes = []
    for mask, positions in classes_by_rows([actives[i] for i in tested]):
        members = [tested[p] for p in positions]  # positions in ``tested`` → matrix indices
        matrices_of_class = [matrices[i] for i in members]
        classes.append(_PermutationClass(matrices_of_class, memberships, mask, union, members))
    thresholds = {i: np.where(np.isnan(results[i].divergence), np.inf, np.abs(results[i].divergence)) for i in tested}
    n_union, done = int(union.sum()), 0
    while done < n_permutations:
        batch = min(PERMUTATION_BATCH, n_permutations - done)
        order = random_permutations(n_union, batch, rng)
        for cls in classes:
            # A permuted group with no comparable site carries no evidence either way.
            d = np.nan_to_num(np.abs(cls.permuted_divergence(order)), nan=-1.0)
            for k, j in enumerate(cls.indices):
                exceed[j] += (d[:, :, k] >= thresholds[j] - TIE_TOLERANCE).sum(axis=0)
        done += batch


def random_permutations(n: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """count independent uniform permutations of range(n), shape (count, n).

    For realistic n one Generator.permutation call per row is the fastest draw numpy offers
    (Fisher–Yates on a contiguous index vector); tiny n with many rows use one permuted() call.
    """
    if n < 256:
        return rng.permuted(np.broadcast_to(np.arange(n, dtype=np.intp), (count, n)), axis=1)
    out = np.empty((count, n), dtype=np.intp)
    for row in out:
        row[:] = rng.permutation(n)
    return out


class _PermutationClass:
    """Matrices with the same raters: their stacked sums and counts, and the membership patterns.

    Membership rows are encoded as ids of distinct patterns (6 groups give at most 64 patterns),
    so the permuted membership matrices of a whole batch are one gather of short table rows.
    """

    def __init__(
        self,
        matrices: list[np.ndarray],
        memberships: np.ndarray,
        mask: np.ndarray,
        union: np.ndarray,
        indices: list[int],
    ) -> None:
        self.indices = indices
        xs = [np.nan_to_num(v[mask]) for v in matrices]
        obs = [(~np.isnan(v[mask])).astype(float) for v in matrices]
        dtype = np.float32 if all(_exact_dtype(x) is np.float32 for x in xs) else np.float64
        # Values and counts of every matrix side by side, transposed so that one product per
        # batch, (matrices · 2 · sites) × people @ people × (batch · groups), gives everything.
        columns = [a for pair in zip(xs, obs, strict=True) for a in pair]
        self.stacked_t = np.ascontiguousarray(np.vstack([c.T for c in columns]), dtype=dtype)
        self.shape = (len(matrices), 2, matrices[0].shape[1])
        self.total_sum = np.stack([x.sum(axis=0) for x in xs])  # matrices × sites
        self.total_cnt = np.stack([o.sum(axis=0) for o in obs])
        patterns, ids = np.unique(memberships[mask], axis=0, return_inverse=True)
        self.ids = ids.reshape(-1).astype(np.intp)
        self.rows = np.ascontiguousarray(patterns, dtype=dtype)  # patterns × groups
        # Position of each union participant among this class's raters (−1 if not a rater).
        self.local = None
        if not np.array_equal(mask, union):
            self.local = np.full(int(union.sum()), -1, dtype=np.intp)
            self.local[mask[union]] = np.arange(int(mask.sum()))

    def permuted_divergence(self, order: np.ndarray) -> np.ndarray:
        """Divergence shaped (batch, groups, matrices) for each permutation row of ``order``."""
        batch = order.shape[0]
        if self.local is not None:
            # Keep this class's raters in the order the permutation visits them.
            mapped = self.local[order]
            order = mapped[mapped >= 0].reshape(batch, -1)
        n_people, n_groups = order.shape[1], self.rows.shape[1]
        # members[i, b, g] = membership in g of the person whose row i receives in permutation b.
        members = np.take(self.rows, self.ids[order.T], axis=0).reshape(n_people, -1)
        sums = (self.stacked_t @ members).astype(np.float64)  # (m · 2 · s) × (b · g)
        sums = sums.T.reshape(batch, n_groups, *self.shape)
        return divergence_from_sums(sums[:, :, :, 0], sums[:, :, :, 1], self.total_sum, self.total_cnt)


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
