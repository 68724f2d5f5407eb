"""Between-group vs within-group variance from nested least-squares models."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.measures import generate_study, variance_split
from analytics.measures.variance import variance_split_dense

nan = np.nan


def test_tiny_design_by_hand():
    # Participants 0 and 1 are in group A. Sites-only: site 1 {4,2,1,3} SS = 5, site 2
    # {3,3,1,1} SS = 4 → RSS 9 on 8 − 2 df → MS 1.5. Balanced design, so the A effect is the
    # mean within-site difference (1 + 2) / 2 = 1.5 and RSS drops by 4.5 to 4.5 on 5 df → 0.9.
    values = np.array([[4, 3], [2, 3], [1, 1], [3, 1]], dtype=float)
    members = np.array([[1], [1], [0], [0]], dtype=bool)
    split = variance_split(values, members)
    assert split.within == pytest.approx(0.9)
    assert split.between == pytest.approx(0.6)
    assert split.share == pytest.approx(0.4)
    assert split.n_observations == 8


def test_matches_dense_least_squares_with_missing_and_overlap():
    rng = np.random.default_rng(0)
    values = rng.integers(1, 6, size=(80, 9)).astype(float)
    values[rng.random(values.shape) < 0.25] = nan
    members = rng.random((80, 4)) < 0.3
    # A duplicated column and an everyone-column are collinear and must not count as rank.
    members = np.hstack([members, members[:, :1], np.ones((80, 1), bool)])
    fast, dense = variance_split(values, members), variance_split_dense(values, members)
    assert fast.within == pytest.approx(dense.within, rel=1e-9)
    assert fast.between == pytest.approx(dense.between, rel=1e-9, abs=1e-12)
    assert fast.share == pytest.approx(dense.share, rel=1e-9, abs=1e-12)


def test_no_groups_means_no_between_variance():
    values = np.random.default_rng(1).integers(1, 6, size=(20, 4)).astype(float)
    split = variance_split(values, np.zeros((20, 0), bool))
    assert split.between == pytest.approx(0.0, abs=1e-12)
    assert split.share == pytest.approx(0.0, abs=1e-12)


def test_too_few_observations_give_none():
    split = variance_split(np.array([[1.0, 2.0]]), np.ones((1, 1), bool))
    assert split.between is None and split.within is None and split.share is None


def test_fast_on_100k_observations():
    import time

    study = generate_study(5000, 20, 1, 6, seed=3)
    start = time.perf_counter()
    variance_split(study.waves[0].ratings[0].values, study.memberships)
    # Not a timing assertion on the budget, only a guard against an accidental dense design.
    assert time.perf_counter() - start < 2.0


def test_shrinking_noise_lowers_within_but_keeps_between():
    study = generate_study(1500, 15, 1, 4, n_waves=2, effects={(0, 0): 1.0, (1, 0): -0.8}, noise=0.9, seed=4)
    first, second = (variance_split(w.ratings[0].values, study.memberships) for w in study.waves)
    assert second.within < 0.6 * first.within
    assert second.between == pytest.approx(first.between, rel=0.25)
    assert second.share > first.share
