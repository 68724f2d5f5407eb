"""Ratings vs rankings discordance, with rating ties counted apart."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.measures import names_match, rating_ranking_consistency

nan = np.nan


def test_consistency_by_hand():
    # Items 0–2 show sites 0–2; item 3 shows no rated site and is ignored.
    ranks = np.array(
        [
            [1, 2, 3, 4],  # ratings 4,2,3: (0,1) ok, (0,2) ok, (1,2) discordant → 1/3, no ties
            [3, 1, 2, 4],  # ratings 2,2,4: (0,1) tied, (0,2) ok, (1,2) discordant → 1/2, tied 1/3
            [nan, nan, nan, nan],  # did not rank → left out
            [1, 2, 3, 4],  # all ratings equal → tied share 1, no untied pair → no discordance
        ]
    )
    ratings = np.array([[4, 2, 3], [2, 2, 4], [1, 2, 3], [3, 3, 3]], dtype=float)
    result = rating_ranking_consistency(ranks, (0, 1, 2, None), ratings)
    assert result.discordance == pytest.approx((1 / 3 + 1 / 2) / 2)
    assert result.tied_pairs_share == pytest.approx((0 + 1 / 3 + 1) / 3)
    assert result.n_participants == 2
    assert result.n_item_pairs == 3


def test_perfectly_consistent_and_reversed():
    ranks = np.array([[1, 2, 3], [3, 2, 1]], dtype=float)
    ratings = np.array([[5, 3, 1], [5, 3, 1]], dtype=float)
    result = rating_ranking_consistency(ranks, (0, 1, 2), ratings)
    assert result.discordance == pytest.approx(0.5)  # participant 1: 0, participant 2: 1


def test_unmapped_items_give_none():
    result = rating_ranking_consistency(np.array([[1.0, 2.0]]), (None, 0), np.array([[3.0]]))
    assert result.discordance is None and result.n_item_pairs == 0


def test_names_match():
    assert names_match("Accessible", "accessibility")
    assert names_match("inclusive", "Inclusivity")
    assert names_match("practical", "practicality")
    assert not names_match("beautiful", "aesthetics")
    assert not names_match("secure", "seniors")
