"""Permutation null for the consensus distance of ranking groups."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from analytics.measures import compute_report, generate_study
from analytics.measures.rankings import distance_tests, group_rankings


def _random_rankings(rng, n_people, n_items=5):
    return np.array([rng.permutation(n_items) + 1 for _ in range(n_people)], dtype=float)


def test_exact_distance_p_value_equals_the_enumeration():
    rng = np.random.default_rng(0)
    ranks = _random_rankings(rng, 9)
    members = np.zeros((9, 1), bool)
    members[[0, 3, 5], 0] = True
    codes = tuple("abcde")
    observed = group_rankings(ranks, members, codes)[0].distance
    hits = []
    for subset in itertools.combinations(range(9), 3):
        m = np.zeros((9, 1), bool)
        m[list(subset), 0] = True
        hits.append(group_rankings(ranks, m, codes)[0].distance >= observed - 1e-12)
    result = distance_tests(ranks, members, 999, np.random.default_rng(1))
    assert result.exact[0] and result.min_p_value[0] == pytest.approx(1 / math.comb(9, 3))
    assert result.p_value[0] == pytest.approx(np.mean(hits), abs=1e-12)


def test_monte_carlo_distance_p_value_matches_the_exact_one():
    rng = np.random.default_rng(2)
    ranks = _random_rankings(rng, 14)
    members = np.zeros((14, 1), bool)
    members[:4, 0] = True  # C(14, 4) = 1001 > 999 permutations → Monte Carlo
    mc = distance_tests(ranks, members, 999, np.random.default_rng(3))
    exact = distance_tests(ranks, members, 1001, np.random.default_rng(3))
    assert not mc.exact[0] and exact.exact[0]
    assert mc.p_value[0] == pytest.approx(exact.p_value[0], abs=0.05)


def test_small_null_groups_are_not_called_divergent_however_far_their_consensus():
    # Null rankings: a group of 3 among 60 sits far from the others by chance alone.
    rejections = 0
    for seed in range(60):
        rng = np.random.default_rng(100 + seed)
        ranks = _random_rankings(rng, 60, 6)
        members = np.column_stack([np.arange(60) < 3, np.arange(60) < 30])
        rejections += int((distance_tests(ranks, members, 199, rng).p_value <= 0.05).sum())
    assert rejections / 120 <= 0.1


def test_planted_ranking_effect_is_found_and_named_only_when_significant():
    study = generate_study(120, 7, 1, 3, n_ranking_criteria=2, ranking_effects={(1, 0): 3.0}, seed=4)
    report = compute_report(study, n_permutations=199, n_bootstrap=0)
    first, second = report["waves"][0]["rankings"]
    assert first["groups"][1]["significant"] and first["most_divergent_group"] == "group 2"
    named = {g["group"]: g for g in second["groups"]}.get(second["most_divergent_group"])
    assert named is None or named["significant"]
    for entry in (first, second):
        for g in entry["groups"]:
            assert g["p_value"] is None or g["p_value"] >= g["min_p_value"]
