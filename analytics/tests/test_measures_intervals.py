"""Bootstrap intervals that count distinct pairs only, and site-bootstrap intervals of alpha."""

from __future__ import annotations

import itertools

import krippendorff
import numpy as np
import pytest

from analytics.measures.agreement import alpha_cis, alpha_from_coincidences, alphas, coincidences
from analytics.measures.disagreement import (
    bootstrap_ci,
    disagreement_from_cumulative,
    pairwise_disagreement,
    rating_levels,
    side_by_side,
)

nan = np.nan
VALUES = np.array([[1, 4, 2], [3, 4, nan], [4, 1, 2], [2, nan, 3]], dtype=float)


def _distinct_pairs_by_hand(values, weights, k):
    """Expand each participant w_i times and average |x − y| over pairs of copies of *different*
    participants, per site, then over sites, / K."""
    per_site = []
    for s in range(values.shape[1]):
        total = pairs = 0.0
        for i, j in itertools.combinations(range(len(values)), 2):
            if np.isnan(values[i, s]) or np.isnan(values[j, s]):
                continue
            total += weights[i] * weights[j] * abs(values[i, s] - values[j, s])
            pairs += weights[i] * weights[j]
        if pairs:
            per_site.append(total / pairs)
    return np.mean(per_site) / k


def test_a_resample_counts_only_pairs_of_distinct_participants():
    weights = np.array([[2.0, 0.0, 1.0, 1.0], [1.0, 3.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    levels = rating_levels(VALUES)
    onehot = side_by_side([VALUES], levels).reshape(len(VALUES), -1)
    counts = (weights @ onehot).reshape(len(weights), levels.size, 1, VALUES.shape[1])
    rated = onehot[:, -VALUES.shape[1] :]
    squared = ((weights**2) @ rated).reshape(len(weights), 1, VALUES.shape[1])
    got = disagreement_from_cumulative(counts, levels, 3.0, squared)[:, 0]
    # The second resample draws participant 1 three times and participant 0 once: the copies of
    # participant 1 are never paired with each other, only with participant 0.
    expected = [_distinct_pairs_by_hand(VALUES, w, 3.0) for w in weights]
    np.testing.assert_allclose(got, expected, atol=1e-12)
    assert got[2] == pytest.approx(pairwise_disagreement(VALUES, 3.0), abs=1e-12)


def test_the_interval_is_centred_on_the_point_estimate():
    rng = np.random.default_rng(0)
    values = np.clip(rng.normal(2.5, 1.0, size=(12, 20)).round(), 1, 4)
    point = pairwise_disagreement(values, 3.0)
    low, high = bootstrap_ci(values, 3.0, 1999, np.random.default_rng(1))
    assert low < point < high
    # Counting same-participant pairs pulled the midpoint about 8 % below the point estimate.
    assert abs((low + high) / 2 - point) < 0.02


def test_alpha_from_coincidences_equals_the_krippendorff_package():
    rng = np.random.default_rng(2)
    values = rng.integers(1, 6, size=(7, 15)).astype(float)
    values[rng.random(values.shape) < 0.2] = nan
    domain = np.arange(1.0, 6.0)
    counts = np.stack([(values == v).sum(axis=0) for v in domain], axis=1)
    ours = alpha_from_coincidences(coincidences(counts).sum(axis=0), domain)
    theirs = krippendorff.alpha(values, level_of_measurement="ordinal", value_domain=list(range(1, 6)))
    assert ours == pytest.approx(theirs, abs=1e-9)


def test_alpha_intervals_per_group_contain_their_point_and_skip_undefined_groups():
    rng = np.random.default_rng(3)
    quality = rng.normal(3, 1, 20)
    values = np.clip(np.rint(quality + rng.normal(0, 0.8, (30, 20))), 1, 5)
    members = np.column_stack([np.arange(30) < 10, np.arange(30) == 0])
    overall, groups = alphas(values, members, 1, 5)
    intervals = alpha_cis(values, members, 1, 5, 999, np.random.default_rng(0))
    for point, (low, high) in zip([overall, groups[0]], intervals[:2], strict=True):
        assert low < point < high
    assert intervals[2] == (None, None)  # a group of one has no alpha
