"""Group divergence with a cluster-level permutation test, and Benjamini–Hochberg q-values.

With diff_s = mean rating of members of g at s − mean rating of the others at s, over the sites
where both sides rated:

- the level divergence d(g) = mean over those sites of diff_s (a shift of the whole group);
- the profile divergence = root mean square over those sites of (diff_s − d(g)): a group that
  rates *different streets* differently from everyone else, with no overall shift, has a large
  profile divergence and d ≈ 0.

Both are tested by permuting whole membership rows among the participants who rated something
(a participant keeps all their ratings). A group's permuted member set is then a uniformly
random subset of its size, so when the number of distinct subsets C(N, n) is at most the
permutations asked for, every subset is enumerated and the p-value is exact (never below
1/C(N, n)); otherwise it is the Monte Carlo p-value (1 + exceedances) / (1 + permutations).
A group with fewer members, or fewer non-members, than ``min_tested`` is too small to test: its
divergences are reported, its p-values are not. Every group is handled at once with matrix
products (membership^T @ values), and permutations run in batches, so there is no Python loop
over participants.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from .data import active_rows, classes_by_rows

# Permuted membership matrices are built this many at a time; it bounds memory at roughly
# batch × participants × groups floats while keeping the matrix products large enough to be fast.
PERMUTATION_BATCH = 128

# Floating-point sums of the same numbers in a different order can differ in the last bits;
# a permuted statistic this close to the observed one counts as "at least as extreme".
TIE_TOLERANCE = 1e-12


# Groups with fewer members (or non-members) than this get divergences but no p-values.
MIN_TESTED = 3


@dataclass(frozen=True)
class DivergenceResult:
    """Per-group divergences, their p-values and the group sizes for one rating matrix.

    Arrays have shape (n_groups,). ``same_test_as[g]`` is the index of an earlier group whose
    member set among this matrix's raters equals g's or its complement (so g's test is that
    group's test and a multiple-testing correction must count it once), or −1.
    """

    divergence: np.ndarray  # float; nan when not computable
    p_value: np.ndarray  # float; nan when not computable or not tested
    n: np.ndarray  # int, members who rated anything
    profile: np.ndarray  # float; nan when not computable
    profile_p_value: np.ndarray  # float; nan when not computable or not tested
    min_p_value: np.ndarray  # float; the smallest p-value the group's test can reach
    too_small: np.ndarray  # bool; computable but fewer than min_tested members or non-members
    exact: np.ndarray  # bool; p-values from the enumeration of every relabelling
    same_test_as: np.ndarray  # int


def _split_sums(members: np.ndarray, values0: np.ndarray, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sums and counts of ratings per (group, site) for one or many stacked membership matrices."""
    return members.T @ values0, members.T @ observed


def divergence_from_sums(
    sum_in: np.ndarray, cnt_in: np.ndarray, total_sum: np.ndarray, total_cnt: np.ndarray
) -> np.ndarray:
    """d(g) from group sums/counts per site; nan where no site has both sides rated.

    The trailing axis is sites; any leading axes (groups, permutations) are kept.
    """
    return split_statistics(sum_in, cnt_in, total_sum, total_cnt)[0]


def split_statistics(
    sum_in: np.ndarray, cnt_in: np.ndarray, total_sum: np.ndarray, total_cnt: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(level divergence d, profile divergence) from group sums/counts per site.

    Both are nan where no site has both sides rated. The trailing axis is sites; any leading
    axes (groups, permutations) are kept.
    """
    cnt_out = total_cnt - cnt_in
    valid = (cnt_in > 0) & (cnt_out > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = sum_in / cnt_in - (total_sum - sum_in) / cnt_out
    diff = np.where(valid, diff, 0.0)
    n_valid = valid.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        level = np.where(n_valid > 0, diff.sum(axis=-1) / n_valid, np.nan)
        deviation = np.where(valid, diff - level[..., None], 0.0)
        profile = np.where(n_valid > 0, np.sqrt((deviation**2).sum(axis=-1) / n_valid), np.nan)
    return level, profile


def group_divergence(values: np.ndarray, memberships: np.ndarray) -> np.ndarray:
    """Observed divergence of every group (no test); nan for groups with no comparable site."""
    return group_divergences(values, memberships)[0]


def group_profile_divergence(values: np.ndarray, memberships: np.ndarray) -> np.ndarray:
    """Observed profile divergence of every group (no test); nan with no comparable site."""
    return group_divergences(values, memberships)[1]


def group_divergences(values: np.ndarray, memberships: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(level, profile) divergence of every group, without a test."""
    observed = (~np.isnan(values)).astype(float)
    values0 = np.nan_to_num(values)
    sum_in, cnt_in = _split_sums(memberships.astype(float), values0, observed)
    return split_statistics(sum_in, cnt_in, values0.sum(axis=0), observed.sum(axis=0))


def same_tests(memberships: np.ndarray) -> np.ndarray:
    """For each group, an earlier group with the same or the complementary member set, or −1.

    Relabelling whole rows moves a group and its complement (or its twin) together, so their
    permutation tests are one test: the same p-values, and d of a complement is −d.
    """
    m = memberships.astype(bool)
    out = np.full(m.shape[1], -1, dtype=np.intp)
    for g in range(m.shape[1]):
        for h in range(g):
            if out[h] == -1 and (np.array_equal(m[:, g], m[:, h]) or np.array_equal(m[:, g], ~m[:, h])):
                out[g] = h
                break
    return out


def relabellings(n_people: int, n_members: int) -> int:
    """How many distinct member sets a permutation of n_people rows can give a group: C(N, n)."""
    return math.comb(int(n_people), int(n_members))


def relabellings_capped(n_people: int, n_members: int, cap: int) -> int:
    """min(C(N, n), cap), without computing C(N, n) in full.

    C(50,000, 25,000) has some 15,000 digits; only whether it exceeds the cap matters, so the
    product C(N, i + 1) = C(N, i) · (N − i) / (i + 1) (an integer at every step) stops there.
    """
    n_people, small = int(n_people), int(min(n_members, n_people - n_members))
    if small < 0:
        return 0
    count = 1
    for i in range(small):
        count = count * (n_people - i) // (i + 1)
        if count >= cap:
            return int(cap)
    return min(count, int(cap))


def member_sets(n_people: int, n_members: int) -> np.ndarray:
    """Every set of `n_members` among `n_people` as 0/1 rows (C(N, n) × N), enumerated over the
    smaller side so that a group and its complement cost the same."""
    small = min(n_members, n_people - n_members)
    subsets = np.array(list(itertools.combinations(range(n_people), small)), dtype=np.intp).reshape(-1, small)
    indicator = np.zeros((len(subsets), n_people))
    np.put_along_axis(indicator, subsets, 1.0, axis=1)
    return indicator if small == n_members else 1.0 - indicator  # enumerated sets were the non-members


@dataclass(frozen=True)
class PermutationPlan:
    """How each group of a permutation test is tested: not at all (`too_small`), by enumerating
    every relabelling (`exact`, with `n_sets` of them) or by random permutations, and the smallest
    p-value its test can reach (`min_p`, NaN where the statistic is undefined)."""

    too_small: np.ndarray
    exact: np.ndarray
    n_sets: np.ndarray
    min_p: np.ndarray
    tested: np.ndarray


def permutation_plan(
    defined: np.ndarray, smaller_side: np.ndarray, n_people: int, n_permutations: int, min_tested: int
) -> PermutationPlan:
    """The plan for groups whose statistic is `defined` and whose smaller side (members or the
    rest) has `smaller_side` people among `n_people`. A group is tested when its smaller side has
    at least `min_tested` people; exactly when C(N, n) ≤ n_permutations."""
    too_small = defined & (smaller_side < min_tested)
    # C(N, n) overflows a float long before N reaches thousands; only whether it exceeds the
    # permutations asked matters beyond that, so it is capped there.
    cap = max(n_permutations, 0) + 1
    n_sets = np.array([relabellings_capped(n_people, k, cap) for k in smaller_side], dtype=float)
    exact = defined & ~too_small & (n_sets <= n_permutations)
    with np.errstate(divide="ignore"):
        min_p = np.where(defined, np.where(exact, 1.0 / n_sets, 1.0 / cap), np.nan)
    return PermutationPlan(too_small, exact, n_sets, min_p, defined & ~too_small)


def divergence_test(
    values: np.ndarray,
    memberships: np.ndarray,
    n_permutations: int,
    rng: np.random.Generator,
    min_members: int = 2,
    min_tested: int = MIN_TESTED,
) -> DivergenceResult:
    """Divergences of every group and their permutation p-values.

    Only participants who rated something take part: shuffling labels onto people with no
    ratings would dilute groups with empty rows. Whole membership rows are permuted, so each
    participant keeps all their ratings and the overlap structure of the groups is kept. The
    level test is two-sided on |d|; the profile test is one-sided (a larger profile divergence
    is more extreme). Groups with fewer than ``min_members`` raters get no divergence at all.
    """
    return divergence_tests([values], memberships, n_permutations, rng, min_members, min_tested)[0]


def divergence_tests(
    matrices: list[np.ndarray],
    memberships: np.ndarray,
    n_permutations: int,
    rng: np.random.Generator,
    min_members: int = 2,
    min_tested: int = MIN_TESTED,
) -> list[DivergenceResult]:
    """divergence_test for several matrices over the same participants (the criteria of a wave).

    One set of random permutations serves every matrix. Each permutation is drawn over the
    participants who rated any of the matrices; a matrix rated by fewer people uses the order in
    which its own raters appear in that permutation, which is again a uniformly random
    permutation of exactly its raters. Matrices with the same raters share one product per batch.
    Groups whose relabellings can all be enumerated (C(N, n) ≤ n_permutations) are tested exactly.
    """
    actives = [active_rows(v) for v in matrices]
    n_groups = memberships.shape[1]
    results: list[DivergenceResult] = []
    for values, active in zip(matrices, actives, strict=True):
        m = memberships[active].astype(float)
        x = values[active]
        observed = (~np.isnan(x)).astype(float)
        x0 = np.nan_to_num(x)
        d_obs, prof_obs = split_statistics(*_split_sums(m, x0, observed), x0.sum(0), observed.sum(0))
        n = m.sum(axis=0).astype(int)
        shown = n >= min_members
        d_obs, prof_obs = np.where(shown, d_obs, np.nan), np.where(shown, prof_obs, np.nan)
        n_people = int(active.sum())
        smaller_side = np.minimum(n, n_people - n)
        plan = permutation_plan(~np.isnan(d_obs), smaller_side, n_people, n_permutations, min_tested)
        too_small, exact, min_p = plan.too_small, plan.exact, plan.min_p
        results.append(
            DivergenceResult(
                divergence=d_obs,
                p_value=np.full(n_groups, np.nan),
                n=n,
                profile=prof_obs,
                profile_p_value=np.full(n_groups, np.nan),
                min_p_value=min_p,
                too_small=too_small,
                exact=exact,
                same_test_as=same_tests(memberships[active]),
            )
        )
    testable = [~np.isnan(r.divergence) & ~r.too_small for r in results]
    tested = [i for i, ok in enumerate(testable) if ok.any()]
    exceed = {i: np.zeros(n_groups) for i in tested}
    exceed_profile = {i: np.zeros(n_groups) for i in tested}
    monte_carlo = [i for i in tested if (testable[i] & ~results[i].exact).any()]
    if n_permutations > 0 and monte_carlo:
        _count_exceedances(
            matrices, actives, memberships, results, monte_carlo, exceed, exceed_profile, n_permutations, rng
        )
    for i in tested:
        r, ok = results[i], testable[i]
        with np.errstate(invalid="ignore"):
            p = np.where(ok, (1.0 + exceed[i]) / (1.0 + n_permutations), np.nan)
            p_prof = np.where(ok, (1.0 + exceed_profile[i]) / (1.0 + n_permutations), np.nan)
        if n_permutations <= 0:
            p, p_prof = p * np.nan, p_prof * np.nan
        for g in np.flatnonzero(ok & r.exact):
            p[g], p_prof[g] = _exact_p_values(matrices[i][actives[i]], memberships[actives[i], g], r, g)
        results[i] = DivergenceResult(
            divergence=r.divergence,
            p_value=p,
            n=r.n,
            profile=r.profile,
            profile_p_value=p_prof,
            min_p_value=r.min_p_value,
            too_small=r.too_small,
            exact=r.exact,
            same_test_as=r.same_test_as,
        )
    return results


def _exact_p_values(x: np.ndarray, member: np.ndarray, result: DivergenceResult, g: int) -> tuple[float, float]:
    """Exact permutation p-values of group g: the share of all C(N, n) member sets of its size
    whose |d| (and profile divergence) reach the observed ones. The observed set is one of them,
    so neither p-value is below 1 / C(N, n)."""
    indicator = member_sets(x.shape[0], int(member.sum()))
    observed = (~np.isnan(x)).astype(float)
    x0 = np.nan_to_num(x)
    d, profile = split_statistics(indicator @ x0, indicator @ observed, x0.sum(0), observed.sum(0))
    d_hits = np.nan_to_num(np.abs(d), nan=-1.0) >= abs(result.divergence[g]) - TIE_TOLERANCE
    profile_hits = np.nan_to_num(profile, nan=-1.0) >= result.profile[g] - TIE_TOLERANCE
    return float(d_hits.mean()), float(profile_hits.mean())


def _count_exceedances(
    matrices: list[np.ndarray],
    actives: list[np.ndarray],
    memberships: np.ndarray,
    results: list[DivergenceResult],
    tested: list[int],
    exceed: dict[int, np.ndarray],
    exceed_profile: dict[int, np.ndarray],
    n_permutations: int,
    rng: np.random.Generator,
) -> None:
    """Add to ``exceed`` how many permuted |d| reach each observed |d|, and to ``exceed_profile``
    how many permuted profile divergences reach the observed one (per matrix and group)."""
    union = np.logical_or.reduce([actives[i] for i in tested])
    classes = []
    for mask, positions in classes_by_rows([actives[i] for i in tested]):
        members = [tested[p] for p in positions]  # positions in ``tested`` → matrix indices
        matrices_of_class = [matrices[i] for i in members]
        classes.append(_PermutationClass(matrices_of_class, memberships, mask, union, members))
    thresholds = {i: np.where(np.isnan(results[i].divergence), np.inf, np.abs(results[i].divergence)) for i in tested}
    profile_thresholds = {i: np.where(np.isnan(results[i].profile), np.inf, results[i].profile) for i in tested}
    n_union, done = int(union.sum()), 0
    while done < n_permutations:
        batch = min(PERMUTATION_BATCH, n_permutations - done)
        order = random_permutations(n_union, batch, rng)
        for cls in classes:
            # A permuted group with no comparable site carries no evidence either way.
            level, profile = cls.permuted_divergence(order)
            d = np.nan_to_num(np.abs(level), nan=-1.0)
            profile = np.nan_to_num(profile, nan=-1.0)
            for k, j in enumerate(cls.indices):
                exceed[j] += (d[:, :, k] >= thresholds[j] - TIE_TOLERANCE).sum(axis=0)
                exceed_profile[j] += (profile[:, :, k] >= profile_thresholds[j] - TIE_TOLERANCE).sum(axis=0)
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
        dtype = np.float32 if all(exact_dtype(x) is np.float32 for x in xs) else np.float64
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

    def permuted_divergence(self, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(level, profile) divergences shaped (batch, groups, matrices) for each permutation
        row of ``order``."""
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
        return split_statistics(sums[:, :, :, 0], sums[:, :, :, 1], self.total_sum, self.total_cnt)


def exact_dtype(x0: np.ndarray) -> type:
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
