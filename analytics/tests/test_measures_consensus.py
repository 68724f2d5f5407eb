"""Distance of each group from a consensus rating, with its permutation test."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from analytics.measures import RatingMatrix, StudyData, WaveData, compute_report
from analytics.measures.consensus import consensus_tests

nan = np.nan


def test_consensus_distance_by_hand():
    values = np.array([[4, 2, nan], [2, 2, 3], [1, 3, 3], [3, 1, 1]], dtype=float)
    members = np.array([[1], [1], [0], [0]], dtype=bool)
    consensus = np.array([3.0, 2.5, nan])
    result = consensus_tests(values, members, consensus, 999, np.random.default_rng(0), min_tested=2)
    # Group means 3, 2 on the two sites with a consensus: |3 − 3| and |2 − 2.5| → 0.25.
    assert result.distance[0] == pytest.approx(0.25, abs=1e-12)
    # Everyone: 2.5, 2 → |−0.5|, |−0.5| → 0.5.
    assert result.overall == pytest.approx(0.5, abs=1e-12) and result.n_sites == 2
    # Exact over the C(4, 2) = 6 pairs of raters.
    hits = []
    for pair in itertools.combinations(range(4), 2):
        m = np.zeros((4, 1), bool)
        m[list(pair), 0] = True
        hits.append(consensus_tests(values, m, consensus, 0, np.random.default_rng(0), 2).distance[0] >= 0.25 - 1e-12)
    assert result.p_value[0] == pytest.approx(np.mean(hits), abs=1e-12)
    assert result.min_p_value[0] == pytest.approx(1 / 6)


def test_a_group_far_from_the_consensus_is_found_and_a_null_group_is_not():
    rng = np.random.default_rng(1)
    consensus = rng.integers(1, 6, 15).astype(float)
    members = np.column_stack([np.arange(80) < 20, rng.random(80) < 0.3])
    values = consensus + rng.normal(0, 0.8, (80, 15))
    values[:20] += np.where(np.arange(15) % 2, 1.5, -1.5)  # group 0 departs from the consensus
    values = np.clip(np.rint(values), 1, 5)
    result = consensus_tests(values, members, consensus, 999, np.random.default_rng(2))
    assert result.p_value[0] <= 0.002 and result.p_value[1] > 0.05


def test_report_adds_consensus_keys_only_where_a_consensus_exists():
    rng = np.random.default_rng(3)
    a, b = (rng.integers(1, 6, (10, 4)).astype(float) for _ in range(2))
    members = np.column_stack([np.arange(10) < 4, np.arange(10) >= 6])
    study = StudyData(
        slug="s",
        scale_min=1,
        scale_max=5,
        group_names=("g", "h"),
        memberships=members,
        site_codes=("s1", "s2", "s3", "s4"),
        waves=(WaveData("w", (RatingMatrix("a", a), RatingMatrix("b", b))),),
        consensus=(("a", np.array([3.0, 2.0, nan, 4.0])),),
    )
    report = compute_report(study, n_permutations=99, n_bootstrap=0)
    with_consensus, without = report["waves"][0]["criteria"]
    assert with_consensus["consensus_n_sites"] == 3 and "consensus_distance" not in without
    group = with_consensus["groups"][0]
    expected = np.mean(np.abs(a[:4, [0, 1, 3]].mean(axis=0) - [3.0, 2.0, 4.0]))
    assert group["consensus_distance"] == pytest.approx(expected, abs=1e-12)
    assert group["consensus_p_value"] >= group["min_p_value"]
