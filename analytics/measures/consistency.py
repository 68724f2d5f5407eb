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
    mapped = np.array([i for i, s in enumerate(item_sites) if s is not None], dtype=int)
    n_pairs = mapped.size * (mapped.size - 1) // 2
    if n_pairs == 0:
        return Consistency(None, None, 0, 0)
    sites = np.array([item_sites[i] for i in mapped], dtype=int)
    i, j = np.triu_indices(mapped.size, k=1)
    rank_i, rank_j = ranks[:, mapped[i]], ranks[:, mapped[j]]
    rate_i, rate_j = ratings[:, sites[i]], ratings[:, sites[j]]
    usable = ~(np.isnan(rank_i) | np.isnan(rank_j) | np.isnan(rate_i) | np.isnan(rate_j))
    usable &= rank_i != rank_j
    # Position 1 is best, so item i is preferred in the ranking when rank_i < rank_j; the ratings
    # agree when rate_i > rate_j. Equal signs of the two differences therefore mean discordance.
    tied = usable & (rate_i == rate_j)
    discordant = usable & ~tied & (np.sign(rate_i - rate_j) == np.sign(rank_i - rank_j))
    n_usable = usable.sum(axis=1)
    n_untied = n_usable - tied.sum(axis=1)
    has_pairs = n_usable > 0
    has_untied = n_untied > 0
    tied_share = tied.sum(axis=1)[has_pairs] / n_usable[has_pairs]
    discordance = discordant.sum(axis=1)[has_untied] / n_untied[has_untied]
    return Consistency(
        discordance=float(discordance.mean()) if discordance.size else None,
        tied_pairs_share=float(tied_share.mean()) if tied_share.size else None,
        n_participants=int(has_untied.sum()),
        n_item_pairs=int(n_pairs),
    )
