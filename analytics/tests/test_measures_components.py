"""Variance components with a rater random effect, and the paired test of their change."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.measures.components import component_change, variance_components

statsmodels = pytest.importorskip("statsmodels.api")


def _study(seed: int, n: int = 40, n_sites: int = 8, group_site: float = 1.0, missing: float = 0.0):
    rng = np.random.default_rng(seed)
    members = np.column_stack([rng.random(n) < 0.4, rng.random(n) < 0.3])
    rater = rng.normal(0, 0.7, n)
    values = (
        rng.normal(3, 1, n_sites)[None, :]
        + rater[:, None]
        + members[:, [0]] * 0.5
        + members[:, [1]] * np.linspace(-group_site, group_site, n_sites)
        + rng.normal(0, 0.6, (n, n_sites))
    )
    if missing:
        values[rng.random(values.shape) < missing] = np.nan
    return values, members


def _fitted_components_by_hand(values, members):
    """Dense least squares: variance over the ratings of the fitted group shift and of the
    fitted group × site part."""
    people, sites = np.nonzero(~np.isnan(values))
    y = values[people, sites]
    site_cols = np.eye(values.shape[1])[sites]
    groups = members[people].astype(float)
    interactions = np.hstack([site_cols * groups[:, [g]] for g in range(members.shape[1])])

    def fitted(design):
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        return design @ coef

    additive = fitted(np.hstack([site_cols, groups]))
    full = fitted(np.hstack([site_cols, interactions]))
    coef, *_ = np.linalg.lstsq(np.hstack([site_cols, groups]), y, rcond=None)
    shift = groups @ coef[values.shape[1] :]
    return shift.var(), ((full - additive) ** 2).mean()


@pytest.mark.parametrize("missing", [0.0, 0.2])
def test_group_components_equal_their_definition(missing):
    values, members = _study(1, missing=missing)
    components = variance_components(values, members)
    group, group_site = _fitted_components_by_hand(values, members)
    assert components.group == pytest.approx(group, abs=1e-6)
    assert components.group_site == pytest.approx(group_site, abs=1e-6)


def test_rater_and_residual_variance_equal_reml_of_a_mixed_model_on_complete_data():
    values, members = _study(2)
    components = variance_components(values, members)
    people, sites = np.nonzero(~np.isnan(values))
    site_cols = np.eye(values.shape[1])[sites]
    groups = members[people].astype(float)
    exog = np.hstack([site_cols] + [site_cols * groups[:, [g]] for g in range(2)])
    fit = statsmodels.MixedLM(values[people, sites], exog, groups=people).fit(reml=True)
    assert components.rater == pytest.approx(float(np.asarray(fit.cov_re)[0, 0]), abs=1e-4)
    assert components.residual == pytest.approx(float(fit.scale), abs=1e-4)


def test_method_of_moments_recovers_the_planted_rater_variance():
    values, members = _study(3, n=400, n_sites=15, missing=0.1)
    components = variance_components(values, members)
    assert components.rater == pytest.approx(0.49, abs=0.1)
    assert components.residual == pytest.approx(0.36, abs=0.03)
    assert sum(components.shares().values()) == pytest.approx(1.0)


def test_complementary_groups_do_not_break_the_fit():
    values, members = _study(4)
    members = np.column_stack([members[:, 0], ~members[:, 0], members[:, 1]])
    with_complement = variance_components(values, members)
    without = variance_components(values, members[:, [0, 2]])
    assert with_complement.group == pytest.approx(without.group, abs=1e-6)
    assert with_complement.group_site == pytest.approx(without.group_site, abs=1e-6)
    assert with_complement.rater == pytest.approx(without.rater, abs=1e-6)


def test_the_change_test_finds_a_vanished_group_site_effect_and_not_a_null_change():
    before, members = _study(5, n=120, group_site=1.0)
    rng = np.random.default_rng(9)
    after = before - members[:, [1]] * np.linspace(-1.0, 1.0, before.shape[1])  # the profile is gone
    after = after + rng.normal(0, 0.3, after.shape)
    change = component_change(before, after, members, 499, np.random.default_rng(0))
    assert change.group_site_delta < 0 and change.group_site_p_value <= 0.01
    same = before + rng.normal(0, 0.3, before.shape)
    null = component_change(before, same, members, 499, np.random.default_rng(0))
    assert null.group_site_p_value > 0.05 and null.group_p_value > 0.05
