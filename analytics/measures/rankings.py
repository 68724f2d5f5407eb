"""Kendall's W, consensus orders and Kendall tau distances between groups' consensus rankings."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
