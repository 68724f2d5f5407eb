"""Profile divergence, exact small-group tests, complementary groups and min_p_value."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analytics.measures import RatingMatrix, StudyData, WaveData, benjamini_hochberg, compute_report
from analytics.measures.divergence import divergence_test, group_profile_divergence, same_tests

nan = np.nan

# Five participants, three sites; group A = {0, 1}.
VALUES = np.array([[4, 1, 3], [3, 2, nan], [2, 3, 2], [2, 2, 2], [1, 3, 2]], dtype=float)
A = np.array([[1], [1], [0], [0], [0]], dtype=bool)


def test_profile_divergence_by_hand():
    # diff_s: site 1 (4+3)/2 − 5/3 = 11/6; site 2 1.5 − 8/3 = −7/6; site 3 3 − 2 = 1.
    diffs = np.array([11 / 6, -7 / 6, 1.0])
    d = diffs.mean()
    expected = math.sqrt(((diffs - d) ** 2).mean())
    assert group_profile_divergence(VALUES, A)[0] == pytest.approx(expected, abs=1e-9)
    result = divergence_test(VALUES, A, 999, np.random.default_rng(0), min_tested=2)
    assert result.divergence[0] == pytest.approx(d, abs=1e-9)
    assert result.profile[0] == pytest.approx(expected, abs=1e-9)


def test_profile_divergence_is_zero_for_a_pure_shift():
    others = np.array([[1, 2, 3, 4]] * 4, dtype=float)
    values = np.vstack([others + 0.5, others])
    members = np.array([[1]] * 4 + [[0]] * 4, dtype=bool)
    assert group_profile_divergence(values, members)[0] == pytest.approx(0.0, abs=1e-12)


def _exact_profile_p(values, member):
    """Share of all member sets of the group's size whose profile divergence reaches the observed."""
    import itertools

    n_people, n = len(values), int(member.sum())
    observed = group_profile_divergence(values, member[:, None])[0]
    hits = total = 0
    for subset in itertools.combinations(range(n_people), n):
        m = np.zeros((n_people, 1), bool)
        m[list(subset), 0] = True
        hits += group_profile_divergence(values, m)[0] >= observed - 1e-12
        total += 1
    return hits / total


def test_exact_profile_p_value_equals_the_enumeration():
    rng = np.random.default_rng(3)
    values = rng.integers(1, 5, size=(9, 6)).astype(float)
    member = np.zeros(9, bool)
    member[[1, 4, 6]] = True
    result = divergence_test(values, member[:, None], 999, np.random.default_rng(0))
    assert result.exact[0]
    assert result.min_p_value[0] == pytest.approx(1 / math.comb(9, 3))
    assert result.profile_p_value[0] == pytest.approx(_exact_profile_p(values, member), abs=1e-12)


def _profile_study(seed: int, n_people: int = 60, effect: float = 1.2):
    """Group 0 rates the first half of the sites higher and the second half lower (no shift);
    group 1 is a null group."""
    rng = np.random.default_rng(seed)
    n_sites = 10
    quality = rng.normal(3, 0.6, n_sites)
    members = rng.random((n_people, 2)) < 0.3
    pattern = np.where(np.arange(n_sites) < n_sites // 2, effect / 2, -effect / 2)
    latent = quality + rng.normal(0, 0.3, (n_people, 1)) + np.outer(members[:, 0], pattern)
    values = np.clip(np.rint(latent + rng.normal(0, 0.7, latent.shape)), 1, 5)
    return values, members


def test_planted_profile_effect_is_found_where_the_level_test_sees_nothing():
    values, members = _profile_study(11)
    result = divergence_test(values, members, 999, np.random.default_rng(0))
    assert result.profile_p_value[0] <= 0.002
    assert abs(result.divergence[0]) < 0.2 and result.p_value[0] > 0.05
    assert result.profile_p_value[1] > 0.05


def test_null_groups_reject_their_profile_test_about_five_percent():
    p_values = []
    for seed in range(100):
        values, members = _profile_study(500 + seed, effect=0.0)
        p_values.append(divergence_test(values, members, 199, np.random.default_rng(seed)).profile_p_value)
    p = np.concatenate(p_values)
    assert 0.02 <= float((p <= 0.05).mean()) <= 0.09


def test_a_group_of_two_among_twelve_never_reports_p_below_one_in_66():
    smallest = []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        values = rng.integers(1, 5, size=(12, 20)).astype(float)
        values[:2] += np.where(np.arange(20) < 10, 2, -2)  # the strongest profile two raters can have
        members = np.zeros((12, 1), bool)
        members[:2, 0] = True
        result = divergence_test(np.clip(values, 1, 4), members, 999, rng, min_tested=2)
        assert result.exact[0] and result.min_p_value[0] == pytest.approx(1 / 66)
        smallest.append(min(result.p_value[0], result.profile_p_value[0]))
    assert min(smallest) == pytest.approx(1 / 66)


def test_monte_carlo_min_p_value_is_one_over_permutations_plus_one():
    values, members = _profile_study(2, n_people=80)
    result = divergence_test(values, members, 199, np.random.default_rng(0))
    assert not result.exact.any()
    np.testing.assert_allclose(result.min_p_value, 1 / 200)
    assert (result.p_value >= 1 / 200).all() and (result.profile_p_value >= 1 / 200).all()


def test_groups_smaller_than_the_study_setting_are_too_small_to_test():
    values, members = _profile_study(4, n_people=12)
    members[:, 0] = False
    members[:2, 0] = True
    result = divergence_test(values, members, 999, np.random.default_rng(0), min_tested=3)
    assert result.too_small[0] and np.isnan(result.p_value[0]) and np.isnan(result.profile_p_value[0])
    assert not np.isnan(result.divergence[0]) and not np.isnan(result.profile[0])


def test_complementary_and_identical_groups_are_one_test():
    members = np.array([[1, 0, 1, 1], [1, 0, 1, 0], [0, 1, 0, 1], [0, 1, 0, 0]], dtype=bool)
    assert same_tests(members).tolist() == [-1, 0, 0, -1]


def _study(values: np.ndarray, members: np.ndarray, names: tuple[str, ...]) -> StudyData:
    return StudyData(
        slug="s",
        scale_min=1,
        scale_max=5,
        group_names=names,
        memberships=members,
        site_codes=tuple(f"s{i}" for i in range(values.shape[1])),
        waves=(WaveData("w", (RatingMatrix("c", values),)),),
    )


def test_report_counts_complementary_groups_once_in_benjamini_hochberg():
    values, members = _profile_study(7, n_people=40)
    members = np.column_stack([members[:, 0], ~members[:, 0], members[:, 1]])
    report = compute_report(_study(values, members, ("women", "men", "other")), n_permutations=199, n_bootstrap=0)
    groups = report["waves"][0]["criteria"][0]["groups"]
    assert groups[1]["same_test_as"] == "women" and groups[0]["same_test_as"] is None
    assert groups[0]["p_value"] == groups[1]["p_value"]
    assert groups[0]["divergence"] == pytest.approx(-groups[1]["divergence"], abs=1e-12)
    for key in ("p_value", "profile_p_value"):
        q = benjamini_hochberg(np.array([groups[0][key], groups[2][key]]))
        q_key = key.replace("p_value", "q_value")
        assert [g[q_key] for g in groups] == pytest.approx([q[0], q[0], q[1]], abs=1e-12)


def test_large_groups_whose_relabellings_overflow_a_float_use_monte_carlo():
    rng = np.random.default_rng(0)
    values = rng.integers(1, 6, size=(3000, 4)).astype(float)
    members = rng.random((3000, 1)) < 0.4
    result = divergence_test(values, members, 99, rng)
    assert not result.exact[0] and result.min_p_value[0] == pytest.approx(1 / 100)
    assert 0 < result.p_value[0] <= 1
