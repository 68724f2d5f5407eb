"""Paired permutation test of change between waves, and per-wave bootstrap points."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from analytics.measures import generate_study, paired_change, pairwise_disagreement, wave_point

nan = np.nan


def test_identical_waves_have_zero_change_and_p_one():
    values = np.random.default_rng(0).integers(1, 6, size=(30, 5)).astype(float)
    change = paired_change(values, values.copy(), 4, 199, np.random.default_rng(1))
    assert change.delta == pytest.approx(0.0)
    assert change.p_value == 1.0
    assert change.n_paired == 30


def test_swap_test_matches_exhaustive_enumeration():
    a = np.array([[1, 2, 4], [4, 1, nan], [2, 2, 3], [5, 4, 1], [3, nan, 2]], dtype=float)
    b = np.array([[3, 2, 3], [3, 2, 2], [2, 3, 3], [4, 3, 2], [nan, nan, nan]], dtype=float)
    change = paired_change(a, b, 4, 20000, np.random.default_rng(2))
    assert change.delta == pytest.approx(pairwise_disagreement(b, 4) - pairwise_disagreement(a, 4))
    assert change.n_paired == 4  # the last participant skipped the second wave
    # The absent participant cannot be swapped, so enumerate swaps of the first four only.
    exact = _exact_swap_p_partial(a, b, 4, movable=4)
    assert change.p_value == pytest.approx(exact, abs=0.015)


def _exact_swap_p_partial(a, b, k, movable):
    observed = abs(pairwise_disagreement(b, k) - pairwise_disagreement(a, k))
    hits = total = 0
    for swap in itertools.product([False, True], repeat=movable):
        s = np.array(list(swap) + [False] * (len(a) - movable))[:, None]
        pa, pb = np.where(s, b, a), np.where(s, a, b)
        hits += abs(pairwise_disagreement(pb, k) - pairwise_disagreement(pa, k)) >= observed - 1e-12
        total += 1
    return hits / total


def test_shrinking_noise_is_a_significant_fall():
    study = generate_study(300, 10, 1, 3, n_waves=2, noise=1.0, seed=3)
    a, b = (w.ratings[0].values for w in study.waves)
    change = paired_change(a, b, 4, 499, np.random.default_rng(4))
    assert change.delta < -0.05
    assert change.p_value <= 0.01


def test_wave_point():
    values = np.random.default_rng(5).integers(1, 5, size=(100, 8)).astype(float)
    values[:3] = nan
    point = wave_point(values, 3, 499, np.random.default_rng(6))
    assert point.n == 97
    assert point.ci_low < point.pairwise_disagreement < point.ci_high
