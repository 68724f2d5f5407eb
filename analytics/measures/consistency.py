"""Ratings vs rankings: how often a participant's ratings order two items unlike their ranking.

For a ranking criterion whose images show rated sites, every pair of mapped items that the
participant both ranked and rated is either concordant (the better-ranked item got the higher
rating), discordant (it got the lower rating) or tied in the ratings. Ties are reported apart
(tied_pairs_share) and left out of the discordance denominator, because a tie says the
participant did not distinguish the two sites, not that they contradicted themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Two criterion names "match" when equal ignoring case, or when they share a stem this long
# ("accessible" / "accessibility", "inclusive" / "inclusivity", "practical" / "practicality").
MATCHING_STEM = 6


@dataclass(frozen=True)
class Consistency:
    discordance: float | None
    tied_pairs_share: float | None
    n_participants: int
    n_item_pairs: int


def names_match(a: str, b: str) -> bool:
    a, b = a.casefold().strip(), b.casefold().strip()
    if a == b:
        return True
    stem = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        stem += 1
    return stem >= MATCHING_STEM


def rating_ranking_consistency(
    ranks: np.ndarray, item_sites: tuple[int | None, ...], ratings: np.ndarray
) -> Consistency:
    """Mean over participants of their discordance and tied share for one criterion pair.

    ranks: participants × items (position 1 = best); ratings: participants × sites.
    """
    return rating_ranking_consistencies([ranks], item_sites, [ratings])[0][0]


def rating_ranking_consistencies(
    rankings: list[np.ndarray], item_sites: tuple[int | None, ...], ratings: list[np.ndarray]
) -> list[list[Consistency]]:
    """rating_ranking_consistency of every ranking against every rating matrix, [ranking][rating].

    The rankings share one item → site mapping, so the rating side (which pairs are rated, which
    site is rated higher, ties) is worked out once for all of them, and each ranking is compared
    to every rating matrix in one stacked array.
    """
    mapped = np.array([i for i, s in enumerate(item_sites) if s is not None], dtype=int)
    n_pairs = mapped.size * (mapped.size - 1) // 2
    if n_pairs == 0 or not ratings:
        return [[Consistency(None, None, 0, 0) for _ in ratings] for _ in rankings]
    sites = np.array([item_sites[i] for i in mapped], dtype=int)
    i, j = np.triu_indices(mapped.size, k=1)
    stacked = np.stack(ratings)  # matrices × participants × sites
    rate_i, rate_j = stacked[:, :, sites[i]], stacked[:, :, sites[j]]
    rate_ok = ~(np.isnan(rate_i) | np.isnan(rate_j))
    rate_tied = rate_ok & (rate_i == rate_j)
    rate_sign = np.sign(rate_i - rate_j)
    results = []
    for ranks in rankings:
        rank_i, rank_j = ranks[:, mapped[i]], ranks[:, mapped[j]]
        usable = ~(np.isnan(rank_i) | np.isnan(rank_j)) & (rank_i != rank_j) & rate_ok
        # Position 1 is best, so item i is preferred in the ranking when rank_i < rank_j; the
        # ratings agree when rate_i > rate_j. Equal signs of the differences mean discordance.
        tied = usable & rate_tied
        discordant = usable & ~rate_tied & (rate_sign == np.sign(rank_i - rank_j))
        n_usable = usable.sum(axis=2)
        n_tied = tied.sum(axis=2)
        n_discordant = discordant.sum(axis=2)
        results.append([_summary(n_usable[m], n_tied[m], n_discordant[m], n_pairs) for m in range(len(ratings))])
    return results


def _summary(n_usable: np.ndarray, n_tied: np.ndarray, n_discordant: np.ndarray, n_pairs: int) -> Consistency:
    n_untied = n_usable - n_tied
    has_pairs = n_usable > 0
    has_untied = n_untied > 0
    tied_share = n_tied[has_pairs] / n_usable[has_pairs]
    discordance = n_discordant[has_untied] / n_untied[has_untied]
    return Consistency(
        discordance=float(discordance.mean()) if discordance.size else None,
        tied_pairs_share=float(tied_share.mean()) if tied_share.size else None,
        n_participants=int(has_untied.sum()),
        n_item_pairs=int(n_pairs),
    )
