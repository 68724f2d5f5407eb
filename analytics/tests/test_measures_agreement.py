"""Krippendorff's alpha wrapper, overall and within groups."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest

from analytics.measures import group_alphas, ordinal_alpha

nan = np.nan


def test_equals_krippendorff_package_with_whole_scale_domain():
    rng = np.random.default_rng(0)
    values = rng.integers(1, 5, size=(10, 12)).astype(float)
    values[rng.random(values.shape) < 0.2] = nan
    expected = krippendorff.alpha(reliability_data=values, level_of_measurement="ordinal", value_domain=[1, 2, 3, 4, 5])
    assert ordinal_alpha(values, 1, 5) == pytest.approx(expected)


def test_perfect_agreement_is_one():
    values = np.tile(np.array([1.0, 2.0, 3.0, 4.0]), (3, 1))
    assert ordinal_alpha(values, 1, 4) == pytest.approx(1.0)


def test_undefined_cases_give_none():
    assert ordinal_alpha(np.array([[1.0, 2.0, 3.0]]), 1, 5) is None  # one rater
    assert ordinal_alpha(np.array([[1.0, nan], [nan, 2.0]]), 1, 5) is None  # nothing pairable
    assert ordinal_alpha(np.full((3, 3), 2.0), 1, 5) is None  # no variation at all


def test_group_alphas_use_members_rows_only():
    rng = np.random.default_rng(1)
    values = rng.integers(1, 6, size=(12, 6)).astype(float)
    members = np.zeros((12, 2), bool)
    members[:5, 0] = True
    members[11, 1] = True
    alphas = group_alphas(values, members, 1, 5)
    assert alphas[0] == pytest.approx(ordinal_alpha(values[:5], 1, 5))
    assert alphas[1] is None
