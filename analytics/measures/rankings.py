"""Kendall's W, consensus orders and Kendall tau distances between groups' consensus rankings."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .divergence import (
    PERMUTATION_BATCH,
    TIE_TOLERANCE,
    exact_dtype,
    member_sets,
    permutation_plan,
    random_permutations,
    same_tests,
)


def kendall_w(ranks: np.ndarray) -> float | None:
    """Kendall's coefficient of concordance for complete rankings (raters × items, no ties).

    W = 12 S / (m² (n³ − n)), S = Σ_i (R_i − mean R)². One ranker trivially "agrees" with
    themself, so W needs at least two rankers and two items.
    """
    m, n = ranks.shape
    if m < 2 or n < 2:
        return None
    totals = ranks.sum(axis=0)
    s = float(((totals - totals.mean()) ** 2).sum())
    return float(12.0 * s / (m**2 * (n**3 - n)))


def consensus_order(ranks: np.ndarray) -> np.ndarray:
    """Item indices from best to worst by mean rank; a stable sort breaks ties by item order."""
    return np.argsort(ranks.mean(axis=0), kind="stable")


def tau_distance(order_a: np.ndarray, order_b: np.ndarray) -> float | None:
    """Normalised Kendall tau distance: discordant item pairs / (m(m−1)/2)."""
    m = order_a.size
    if m < 2:
        return None
    pos_a = np.empty(m, int)
    pos_b = np.empty(m, int)
    pos_a[order_a] = np.arange(m)
    pos_b[order_b] = np.arange(m)
    i, j = np.triu_indices(m, k=1)
    discordant = np.sign(pos_a[i] - pos_a[j]) != np.sign(pos_b[i] - pos_b[j])
    return float(discordant.sum() / (m * (m - 1) / 2.0))


@dataclass(frozen=True)
class GroupRanking:
    n: int
    kendall_w: float | None
    consensus: list[str] | None
    mean_ranks: list[float] | None
    distance: float | None


def group_ranking(
    ranks: np.ndarray, in_group: np.ndarray, item_codes: tuple[str, ...], min_rankers: int = 2
) -> GroupRanking:
    """W and consensus of a group's complete rankings, and its distance to everybody else's."""
    mine = ranks[in_group]
    others = ranks[~in_group]
    n = int(mine.shape[0])
    if n < min_rankers:
        return GroupRanking(n, None, None, None, None)
    order = consensus_order(mine)
    distance = tau_distance(order, consensus_order(others)) if others.shape[0] else None
    return GroupRanking(
        n=n,
        kendall_w=kendall_w(mine),
        consensus=[item_codes[i] for i in order],
        mean_ranks=[float(v) for v in mine.mean(axis=0)],
        distance=distance,
    )


def group_rankings(
    ranks: np.ndarray, memberships: np.ndarray, item_codes: tuple[str, ...], min_rankers: int = 2
) -> list[GroupRanking]:
    """group_ranking for every membership column, from one memberships × ranks product.

    Every quantity group_ranking needs (rank totals of the members and of everybody else) is a
    column sum, and for integer positions those sums are exact, so the results are identical to
    calling group_ranking per group. Non-integer ranks take the per-group path.
    """
    n_groups = memberships.shape[1]
    if not np.all(ranks == np.rint(ranks)):
        columns = [memberships[:, g] for g in range(n_groups)]
        return [group_ranking(ranks, c, item_codes, min_rankers) for c in columns]
    members = memberships.astype(np.float64)
    counts = members.sum(axis=0).astype(int)
    sums = members.T @ ranks
    total = ranks.sum(axis=0)
    n_items = ranks.shape[1]
    results = []
    for g in range(n_groups):
        n = int(counts[g])
        if n < min_rankers:
            results.append(GroupRanking(n, None, None, None, None))
            continue
        means = sums[g] / n
        order = np.argsort(means, kind="stable")
        n_others = ranks.shape[0] - n
        distance = None
        if n_others:
            others = np.argsort((total - sums[g]) / n_others, kind="stable")
            distance = tau_distance(order, others)
        w = None
        if n >= 2 and n_items >= 2:  # as kendall_w: two rankers and two items
            s = float(((sums[g] - sums[g].mean()) ** 2).sum())
            w = float(12.0 * s / (n**2 * (n_items**3 - n_items)))
        results.append(
            GroupRanking(
                n=n,
                kendall_w=w,
                consensus=[item_codes[i] for i in order],
                mean_ranks=[float(v) for v in means],
                distance=distance,
            )
        )
    return results


def most_distant(groups: list[str], results: list[GroupRanking]) -> str | None:
    """The group whose consensus is farthest from the others' (first one on ties)."""
    best, best_distance = None, -1.0
    for name, result in zip(groups, results, strict=True):
        if result.distance is not None and result.distance > best_distance:
            best, best_distance = name, result.distance
    return best


@dataclass(frozen=True)
class DistanceTest:
    """Permutation test of each group's consensus distance for one ranking criterion."""

    p_value: np.ndarray  # nan where not tested
    min_p_value: np.ndarray  # the smallest p-value the group's test can reach
    too_small: np.ndarray  # bool
    exact: np.ndarray  # bool
    same_test_as: np.ndarray  # int, as in divergence.same_tests


def _distances(member_sums: np.ndarray, counts: np.ndarray, total: np.ndarray, n_people: int) -> np.ndarray:
    """Tau distance between each group's consensus and the others', batched: (..., groups).

    member_sums (..., groups, items) are the members' rank totals; consensus orders sort mean
    ranks stably, exactly as consensus_order does.
    """
    n_items = member_sums.shape[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        mine = member_sums / counts[..., None]
        others = (total - member_sums) / (n_people - counts)[..., None]
    pos_a = np.argsort(np.argsort(mine, axis=-1, kind="stable"), axis=-1, kind="stable")
    pos_b = np.argsort(np.argsort(others, axis=-1, kind="stable"), axis=-1, kind="stable")
    i, j = np.triu_indices(n_items, k=1)
    discordant = np.sign(pos_a[..., i] - pos_a[..., j]) != np.sign(pos_b[..., i] - pos_b[..., j])
    return discordant.sum(axis=-1) / (n_items * (n_items - 1) / 2.0)


def distance_tests(
    ranks: np.ndarray,
    memberships: np.ndarray,
    n_permutations: int,
    rng: np.random.Generator,
    min_tested: int = 3,
) -> DistanceTest:
    """p-values of the consensus distances of group_rankings under relabelling of the rankers.

    Small groups reach large distances by chance (their consensus is noisy), so the distance
    alone favours them; the permutation null compares each group with random groups of its
    own size. Rows are complete rankings; whole membership rows are permuted. When every member
    set of the group's size can be enumerated (C(N, n) ≤ n_permutations) the p-value is exact.
    """
    return distance_tests_shared([ranks], memberships, n_permutations, rng, min_tested)[0]


def distance_tests_shared(
    rank_matrices: list[np.ndarray],
    memberships: np.ndarray,
    n_permutations: int,
    rng: np.random.Generator,
    min_tested: int = 3,
) -> list[DistanceTest]:
    """distance_tests for several ranking criteria ranked by the same people (rows aligned with
    `memberships`): one set of random relabellings serves them all, and each batch of permuted
    membership rows is gathered once for every criterion."""
    n_people, n_groups = memberships.shape
    counts = memberships.sum(axis=0).astype(int)
    smaller = np.minimum(counts, n_people - counts)
    m = memberships.astype(np.float64)
    same = same_tests(memberships)
    plans, xs, totals, observed = [], [], [], []
    for ranks in rank_matrices:
        defined = (counts >= 2) & (n_people - counts >= 1) & (ranks.shape[1] >= 2)
        plans.append(permutation_plan(defined, smaller, n_people, n_permutations, min_tested))
        x = ranks.astype(np.float64)
        xs.append(x)
        totals.append(x.sum(axis=0))
        observed.append(_distances(m.T @ x, counts.astype(float), totals[-1], n_people))
    p_values = [np.full(n_groups, np.nan) for _ in rank_matrices]
    if n_permutations <= 0:
        return [
            DistanceTest(p, plan.min_p, plan.too_small, plan.exact, same)
            for p, plan in zip(p_values, plans, strict=True)
        ]
    sampled = [plan.tested & ~plan.exact for plan in plans]
    union = np.logical_or.reduce(sampled) if sampled else np.zeros(n_groups, dtype=bool)
    active = [k for k in range(len(rank_matrices)) if sampled[k].any()]
    if active:
        columns = np.flatnonzero(union)
        n_union = len(columns)
        # The rank columns of every criterion tested, stacked: one product per batch serves them
        # all. Integer ranks sum exactly in float32 (see divergence.exact_dtype).
        stacked = np.hstack([xs[k] for k in active])
        dtype = exact_dtype(stacked)
        stacked_t = np.ascontiguousarray(stacked.T, dtype=dtype)  # (criteria · items) × people
        widths = np.cumsum([0] + [xs[k].shape[1] for k in active])
        # Membership rows as ids of distinct patterns (6 groups give at most 64), so a batch of
        # permuted membership matrices is one gather of short rows, people-major, ready for one
        # (criteria · items) × people @ people × (batch · groups) product.
        patterns, ids = np.unique(memberships[:, union], axis=0, return_inverse=True)
        patterns = np.ascontiguousarray(patterns, dtype=dtype)
        ids = ids.reshape(-1).astype(np.intp)
        exceed = [np.zeros(n_groups) for _ in rank_matrices]
        counts_union = counts[union].astype(float)
        done = 0
        while done < n_permutations:
            batch = min(PERMUTATION_BATCH, n_permutations - done)
            order = random_permutations(n_people, batch, rng)
            # permuted[p, b, g] = membership in g of the person whose row p receives in permutation b.
            permuted = np.take(patterns, ids[order.T], axis=0).reshape(n_people, batch * n_union)
            products = (stacked_t @ permuted).astype(np.float64)
            for j, k in enumerate(active):
                block = products[widths[j] : widths[j + 1]].reshape(-1, batch, n_union)
                sums = block.transpose(1, 2, 0)  # batch × groups × items
                d = _distances(sums, counts_union, totals[k], n_people)
                threshold = np.where(sampled[k][union], observed[k][union], np.inf)
                exceed[k][columns] += (d >= threshold - TIE_TOLERANCE).sum(axis=0)
            done += batch
        for k in active:
            p_values[k][sampled[k]] = (1.0 + exceed[k][sampled[k]]) / (1.0 + n_permutations)
    for k, (x, total, plan) in enumerate(zip(xs, totals, plans, strict=True)):
        for g in np.flatnonzero(plan.exact):
            indicator = member_sets(n_people, int(counts[g]))
            d = _distances(indicator @ x, np.full(len(indicator), float(counts[g])), total, n_people)
            p_values[k][g] = float((d >= observed[k][g] - TIE_TOLERANCE).mean())
    return [
        DistanceTest(p, plan.min_p, plan.too_small, plan.exact, same) for p, plan in zip(p_values, plans, strict=True)
    ]


def most_distant_significant(groups: list[str], results: list[GroupRanking], significant: list[bool]) -> str | None:
    """The significant group whose consensus is farthest from the others' (first on ties), or None."""
    best, best_distance = None, -1.0
    for name, result, ok in zip(groups, results, significant, strict=True):
        if ok and result.distance is not None and result.distance > best_distance:
            best, best_distance = name, result.distance
    return best
