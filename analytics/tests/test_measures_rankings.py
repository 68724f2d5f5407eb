"""Kendall's W, consensus orders and normalised Kendall tau distances."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from analytics.measures import consensus_order, group_ranking, kendall_w, tau_distance


def test_kendall_w_by_hand():
    # Rank sums 4, 6, 8 (mean 6) → S = 8; W = 12·8 / (3²·(3³ − 3)) = 96 / 216.
    ranks = np.array([[1, 2, 3], [1, 3, 2], [2, 1, 3]], dtype=float)
    assert kendall_w(ranks) == pytest.approx(96 / 216)


def test_kendall_w_extremes_and_friedman():
    assert kendall_w(np.tile(np.arange(1.0, 6.0), (4, 1))) == pytest.approx(1.0)
    assert kendall_w(np.array([[1.0, 2.0], [2.0, 1.0]])) == pytest.approx(0.0)
    assert kendall_w(np.array([[1.0, 2.0, 3.0]])) is None
    ranks = np.argsort(np.random.default_rng(0).random((9, 6)), axis=1).astype(float) + 1
    chi2 = stats.friedmanchisquare(*ranks.T).statistic
    assert kendall_w(ranks) == pytest.approx(chi2 / (9 * (6 - 1)))


def test_tau_distance_by_hand_and_against_scipy():
    assert tau_distance(np.array([0, 1, 2, 3]), np.array([1, 0, 3, 2])) == pytest.approx(2 / 6)
    assert tau_distance(np.array([0, 1, 2]), np.array([2, 1, 0])) == pytest.approx(1.0)
    assert tau_distance(np.array([0, 1, 2]), np.array([0, 1, 2])) == 0.0
    a, b = np.random.default_rng(1).permutation(8), np.random.default_rng(2).permutation(8)
    pos_a, pos_b = np.argsort(a), np.argsort(b)
    tau = stats.kendalltau(pos_a, pos_b).statistic
    assert tau_distance(a, b) == pytest.approx((1 - tau) / 2)


def test_consensus_ties_break_by_item_order():
    ranks = np.array([[2, 1, 3], [1, 2, 3]], dtype=float)
    assert consensus_order(ranks).tolist() == [0, 1, 2]


def test_group_consensus_and_distance_by_hand():
    # Members' mean ranks (1.5, 1.5, 3) → order a, b, c; others' (3, 1.5, 1.5) → b, c, a.
    # Pairs (a,b) and (a,c) are discordant, (b,c) concordant → 2/3.
    ranks = np.array([[1, 2, 3], [2, 1, 3], [3, 2, 1], [3, 1, 2]], dtype=float)
    in_group = np.array([True, True, False, False])
    result = group_ranking(ranks, in_group, ("a", "b", "c"))
    assert result.consensus == ["a", "b", "c"]
    assert result.distance == pytest.approx(2 / 3)
    assert result.kendall_w == pytest.approx(kendall_w(ranks[:2]))
    assert result.n == 2


def test_group_with_one_ranker_is_skipped():
    ranks = np.array([[1, 2], [2, 1], [1, 2]], dtype=float)
    result = group_ranking(ranks, np.array([True, False, False]), ("a", "b"))
    assert result.distance is None and result.consensus is None and result.n == 1
