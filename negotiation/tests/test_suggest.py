"""Suggested effects: ridge regression on audited attributes (pure numpy, no database)."""

from __future__ import annotations

import numpy as np
from numpy.testing import assert_allclose

from negotiation.bargaining.suggest import attributes_for, indicator, ridge, suggest_effects


def test_ridge_matches_the_closed_form_on_centred_data():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 3))
    y = X @ np.array([1.0, -0.5, 0.2]) + 2 + rng.normal(scale=0.1, size=30)
    beta, lam = ridge(X, y, lambdas=[2.0])
    Xc, yc = X - X.mean(0), y - y.mean()
    assert_allclose(beta, np.linalg.solve(Xc.T @ Xc + 2.0 * np.eye(3), Xc.T @ yc))
    assert lam == 2.0


def test_interventions_map_to_the_attributes_they_change():
    assert attributes_for("benches") == ("seating_availability",)
    assert attributes_for("lighting", "Pedestrian-scale street lighting") == ("street_lighting",)
    assert attributes_for("parking_kept", "Keep on-street parking") == ()
    assert indicator("greenery_presence", "Medium") == 2 / 3
    assert indicator("waste_bins", "Present") == 1.0


def test_a_suggestion_is_the_coefficient_times_the_shortfall_and_records_its_source():
    sites = {f"s{k}": {"seating_availability": "Present" if k < 3 else "Absent"} for k in range(10)}
    ratings = [
        (s, "comfort", 3.0 if a["seating_availability"] == "Present" else 2.0)
        for s, a in sites.items()
        for _ in range(2)
    ]
    out = suggest_effects(
        site_attributes=sites,
        ratings=ratings,
        criteria=["comfort"],
        interventions={"benches": ("seating_availability",)},
    )
    source = out["benches"].sources["comfort"]
    coefficient = source["attributes"][0]["coefficient"]
    assert 0 < coefficient < 1  # Shrunk towards 0 from the true difference of 1.
    assert_allclose(out["benches"].effects["comfort"], round(coefficient * 0.7, 2), atol=0.006)
    assert source["n"] == 10 and source["n_ratings"] == 20 and source["lambda"] > 0
    assert any(
        a["attribute"] == "seating_availability" for src in out["benches"].sources.values() for a in src["attributes"]
    )
