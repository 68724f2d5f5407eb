"""Group divergence, its permutation test and Benjamini–Hochberg q-values."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from analytics.measures import benjamini_hochberg, divergence_test, generate_study, group_divergence

nan = np.nan

# Four participants, two sites; groups A = {0, 1}, B = {0, 2}, C = {1}.
VALUES = np.array([[4, 2], [2, nan], [1, 1], [3, 1]], dtype=float)
MEMBERS = np.array([[1, 1, 0], [1, 0, 1], [0, 1, 0], [0, 0, 0]], dtype=bool)


def test_divergence_by_hand():
    # A: site 1 (4+2)/2 − (1+3)/2 = 1; site 2: 2 − 1 = 1 (participant 1 missing) → 1.
    # B: site 1 2.5 − 2.5 = 0; site 2 (2+1)/2 − 1 = 0.5 → 0.25.
    # C: site 1 2 − 8/3 = −2/3; site 2 has no member rating and is skipped → −2/3.
    np.testing.assert_allclose(group_divergence(VALUES, MEMBERS), [1.0, 0.25, -2.0 / 3.0])


def test_group_without_comparable_site_is_nan():
    values = np.array([[4, nan], [nan, 2], [nan, 3]], dtype=float)
    members = np.array([[1], [0], [0]], dtype=bool)
    assert np.isnan(group_divergence(values, members)[0])


def test_small_groups_get_no_divergence_or_p_value():
    result = divergence_test(VALUES, MEMBERS, 99, np.random.default_rng(0), min_tested=2)
    assert np.isnan(result.divergence[2]) and np.isnan(result.p_value[2])
    assert result.n.tolist() == [2, 2, 1]


def test_groups_below_the_tested_size_keep_their_divergence_but_get_no_p_value():
    result = divergence_test(VALUES, MEMBERS, 99, np.random.default_rng(0))
    np.testing.assert_allclose(result.divergence[:2], [1.0, 0.25])
    assert np.isnan(result.p_value[:2]).all() and result.too_small[:2].all()


def _exact_p(values, members, g):
    """Share of all relabellings (whole rows permuted) with |d| at least the observed |d|."""
    observed = abs(group_divergence(values, members)[g])
    hits = total = 0
    for order in itertools.permutations(range(len(values))):
        d = group_divergence(values, members[list(order)])[g]
        hits += abs(d) >= observed - 1e-12
        total += 1
    return hits / total


@pytest.mark.parametrize("g", [0, 1])
def test_exact_relabelling_matches_exhaustive_enumeration(g):
    # C(4, 2) = 6 relabellings ≤ 20000 permutations asked: the p-value is exact.
    result = divergence_test(VALUES, MEMBERS, 20000, np.random.default_rng(1), min_tested=2)
    assert result.exact[g]
    assert result.p_value[g] == pytest.approx(_exact_p(VALUES, MEMBERS, g), abs=1e-12)


@pytest.mark.parametrize("g", [0, 1])
def test_vectorised_permutation_matches_exhaustive_enumeration(g):
    # Five permutations are fewer than the six relabellings, so this is the Monte Carlo path;
    # repeated runs average to the exact p-value.
    rng = np.random.default_rng(1)
    runs = [divergence_test(VALUES, MEMBERS, 5, rng, min_tested=2) for _ in range(3000)]
    assert not runs[0].exact[g]
    # E[(1 + X) / 6] with X ~ Binomial(5, p_exact) is (1 + 5 p_exact) / 6.
    expected = (1 + 5 * _exact_p(VALUES, MEMBERS, g)) / 6
    assert np.mean([r.p_value[g] for r in runs]) == pytest.approx(expected, abs=0.015)


def test_p_value_formula_with_no_exceedance_is_one_over_n_plus_one():
    # A perfectly separated group in a large sample is never matched by a permutation.
    values = np.vstack([np.full((30, 5), 5.0), np.full((30, 5), 1.0)])
    members = np.zeros((60, 1), bool)
    members[:30, 0] = True
    result = divergence_test(values, members, 199, np.random.default_rng(2))
    assert result.p_value[0] == pytest.approx(1 / 200)


def test_only_participants_who_rated_are_permuted():
    # Adding members who rated nothing must not change the result (same seed, same stream).
    extra = np.vstack([VALUES, np.full((3, 2), nan)])
    members = np.vstack([MEMBERS, np.ones((3, 3), bool)])
    a = divergence_test(VALUES, MEMBERS, 500, np.random.default_rng(3), min_tested=2)
    b = divergence_test(extra, members, 500, np.random.default_rng(3), min_tested=2)
    np.testing.assert_array_equal(a.p_value, b.p_value)
    np.testing.assert_array_equal(a.divergence, b.divergence)


def test_non_integer_values_use_exact_float64_path():
    values = VALUES / 3.0
    rng = np.random.default_rng(1)
    runs = [divergence_test(values, MEMBERS, 5, rng, min_tested=2).p_value[0] for _ in range(3000)]
    assert np.mean(runs) == pytest.approx((1 + 5 * _exact_p(values, MEMBERS, 0)) / 6, abs=0.015)


def test_benjamini_hochberg_by_hand():
    # Sorted: 0.005·4/1 = 0.02, 0.01·4/2 = 0.02, 0.03·4/3 = 0.04, 0.04·4/4 = 0.04.
    q = benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.005, nan]))
    np.testing.assert_allclose(q[:4], [0.02, 0.04, 0.04, 0.02])
    assert np.isnan(q[4])


def test_benjamini_hochberg_is_monotone_and_capped():
    np.testing.assert_allclose(benjamini_hochberg(np.array([0.01, 0.02, 0.03])), [0.03] * 3)
    np.testing.assert_allclose(benjamini_hochberg(np.array([0.9, 0.8])), [0.9, 0.9])
    np.testing.assert_allclose(benjamini_hochberg(np.array([0.6, 0.7, 0.9])), [0.9] * 3)
    assert benjamini_hochberg(np.array([1.0, 1.0])).max() <= 1.0


def test_benjamini_hochberg_matches_scipy():
    p = np.random.default_rng(4).random(50) ** 3
    np.testing.assert_allclose(benjamini_hochberg(p), stats.false_discovery_control(p))


def test_planted_effect_is_detected():
    study = generate_study(300, 10, 1, 4, effects={(1, 0): 0.8}, seed=5)
    values = study.waves[0].ratings[0].values
    result = divergence_test(values, study.memberships, 499, np.random.default_rng(0))
    assert result.p_value[1] <= 0.01
    assert result.divergence[1] > 0.4
    assert np.argmax(np.abs(result.divergence)) == 1


def test_null_data_rejects_about_five_percent():
    # 120 null studies × 5 overlapping groups = 600 p-values, with person-level clustering
    # (person_sd) so a test that ignored clusters would reject far too often.
    p_values = []
    for seed in range(120):
        study = generate_study(60, 8, 1, 5, missing=0.2, seed=1000 + seed, person_sd=0.6)
        values = study.waves[0].ratings[0].values
        rng = np.random.default_rng(seed)
        p_values.append(divergence_test(values, study.memberships, 199, rng).p_value)
    p = np.concatenate(p_values)
    p = p[~np.isnan(p)]
    rate = float((p <= 0.05).mean())
    assert p.size >= 500
    assert 0.02 <= rate <= 0.09, rate
