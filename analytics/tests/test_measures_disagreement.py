"""Pairwise disagreement, its histogram form and its bootstrap interval."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from analytics.measures import bootstrap_ci, pairwise_disagreement
from analytics.measures.disagreement import histograms, weighted_disagreement

nan = np.nan


def _brute_force(values, k):
    per_site = []
    for column in values.T:
        x = column[~np.isnan(column)]
        if x.size >= 2:
            per_site.append(np.mean([abs(a - b) for a, b in itertools.combinations(x, 2)]))
    return np.mean(per_site) / k


def test_pairwise_disagreement_by_hand():
    # Site 1: {1, 2, 4} → pairs 1, 3, 2 → mean 2. Site 2: {3, 3} → 0. Site 3 has one rating
    # and is skipped. (2 + 0) / 2 sites / K = 4 → 0.25.
    values = np.array([[1, 3, 5], [2, 3, nan], [4, nan, nan]], dtype=float)
    assert pairwise_disagreement(values, 4) == pytest.approx(0.25)


def test_extremes():
    assert pairwise_disagreement(np.full((5, 3), 2.0), 4) == 0.0
    two_camps = np.array([[1.0], [5.0]])
    assert pairwise_disagreement(two_camps, 4) == pytest.approx(1.0)
    assert pairwise_disagreement(np.array([[1.0, nan], [nan, 2.0]]), 4) is None


def test_matches_brute_force_with_missing_values():
    rng = np.random.default_rng(0)
    values = rng.integers(1, 6, size=(40, 7)).astype(float)
    values[rng.random(values.shape) < 0.3] = nan
    assert pairwise_disagreement(values, 4) == pytest.approx(_brute_force(values, 4))


def test_histogram_form_equals_point_estimate():
    rng = np.random.default_rng(1)
    values = rng.integers(1, 5, size=(30, 6)).astype(float)
    values[rng.random(values.shape) < 0.2] = nan
    hist = histograms(values)
    ones = np.ones((1, values.shape[0]))
    assert weighted_disagreement(ones, hist, 3)[0] == pytest.approx(pairwise_disagreement(values, 3))


def test_histogram_weights_equal_duplicated_rows():
    # A bootstrap weight of 2 must act exactly like the participant appearing twice.
    values = np.array([[1, 2], [3, nan], [4, 4]], dtype=float)
    weights = np.array([[2, 0, 1]])
    duplicated = values[[0, 0, 2]]
    assert weighted_disagreement(weights, histograms(values), 3)[0] == pytest.approx(
        pairwise_disagreement(duplicated, 3)
    )


def test_bootstrap_interval_brackets_estimate_and_is_seeded():
    rng = np.random.default_rng(2)
    values = rng.integers(1, 6, size=(200, 10)).astype(float)
    estimate = pairwise_disagreement(values, 4)
    low, high = bootstrap_ci(values, 4, 999, np.random.default_rng(7))
    assert low < estimate < high
    assert high - low < 0.1
    assert (low, high) == bootstrap_ci(values, 4, 999, np.random.default_rng(7))
