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
    return rating_ranking_consistencies(ranks, item_sites, [ratings])[0]


def rating_ranking_consistencies(
    ranks: np.ndarray, item_sites: tuple[int | None, ...], ratings: list[np.ndarray]
) -> list[Consistency]:
    """rating_ranking_consistency of one ranking against several rating matrices at once.

    The ranking side (which pairs are usable, which item is preferred) is worked out once and
    every rating matrix is compared to it in one stacked array.
    """
    mapped = np.array([i for i, s in enumerate(item_sites) if s is not None], dtype=int)
    n_pairs = mapped.size * (mapped.size - 1) // 2
    if n_pairs == 0 or not ratings:
        return [Consistency(None, None, 0, 0) for _ in ratings]
    sites = np.array([item_sites[i] for i in mapped], dtype=int)
    i, j = np.triu_indices(mapped.size, k=1)
    rank_i, rank_j = ranks[:, mapped[i]], ranks[:, mapped[j]]
    rank_usable = ~(np.isnan(rank_i) | np.isnan(rank_j)) & (rank_i != rank_j)
    rank_sign = np.sign(rank_i - rank_j)
    stacked = np.stack(ratings)  # matrices × participants × sites
    rate_i, rate_j = stacked[:, :, sites[i]], stacked[:, :, sites[j]]
    usable = rank_usable & ~(np.isnan(rate_i) | np.isnan(rate_j))
    # Position 1 is best, so item i is preferred in the ranking when rank_i < rank_j; the ratings
    # agree when rate_i > rate_j. Equal signs of the two differences therefore mean discordance.
    tied = usable & (rate_i == rate_j)
    discordant = usable & ~tied & (np.sign(rate_i - rate_j) == rank_sign)
    n_usable = usable.sum(axis=2)
    n_tied = tied.sum(axis=2)
    n_untied = n_usable - n_tied
    n_discordant = discordant.sum(axis=2)
    results = []
    for m in range(len(ratings)):
        has_pairs = n_usable[m] > 0
        has_untied = n_untied[m] > 0
        tied_share = n_tied[m][has_pairs] / n_usable[m][has_pairs]
        discordance = n_discordant[m][has_untied] / n_untied[m][has_untied]
        results.append(
            Consistency(
                discordance=float(discordance.mean()) if discordance.size else None,
                tied_pairs_share=float(tied_share.mean()) if tied_share.size else None,
                n_participants=int(has_untied.sum()),
                n_item_pairs=int(n_pairs),
            )
        )
    return results
