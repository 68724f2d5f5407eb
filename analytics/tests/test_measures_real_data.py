"""The real StreetReview ratings (12 evaluators × 20 streets × 4 criteria, 1–4 scale)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import krippendorff
import numpy as np
import pytest

from analytics.measures import RatingMatrix, StudyData, WaveData, compute_report, ordinal_alpha

CRITERIA = ("practicality", "inclusivity", "aesthetics", "accessibility")
REPO_COPY = Path(__file__).resolve().parents[2] / "data" / "streetreview" / "demographic_analysis.csv"
SHARED_COPY = Path("/work/shared/data/streetreview/demographic_analysis.csv")
DATA = REPO_COPY if REPO_COPY.exists() else SHARED_COPY

pytestmark = pytest.mark.skipif(not DATA.exists(), reason="StreetReview data not available")


def load_streetreview() -> StudyData:
    """Row k within an evaluator is street i{k+1:02d} (see the data README)."""
    with DATA.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    evaluators = list(dict.fromkeys(r["evaluator"] for r in rows))
    attributes: dict[str, set[str]] = {}
    by_evaluator: dict[str, list[dict]] = {e: [] for e in evaluators}
    for row in rows:
        by_evaluator[row["evaluator"]].append(row)
        parts = {p.strip() for p in row["Demographic"].split(",") if p.strip()}
        attributes.setdefault(row["evaluator"], set()).update(parts)
    groups = tuple(sorted(set().union(*attributes.values())))
    n_sites = len(by_evaluator[evaluators[0]])
    ratings = []
    for criterion in CRITERIA:
        values = np.array([[float(r[criterion]) for r in by_evaluator[e]] for e in evaluators], dtype=float)
        ratings.append(RatingMatrix(criterion, values))
    members = np.array([[g in attributes[e] for g in groups] for e in evaluators], dtype=bool)
    return StudyData(
        slug="streetreview",
        scale_min=1,
        scale_max=4,
        group_names=groups,
        memberships=members,
        site_codes=tuple(f"i{k + 1:02d}" for k in range(n_sites)),
        waves=(WaveData("before discussion", tuple(ratings)),),
    )


@pytest.fixture(scope="module")
def study() -> StudyData:
    return load_streetreview()


def test_shape(study):
    assert study.memberships.shape[0] == 12
    assert all(r.values.shape == (12, 20) for r in study.waves[0].ratings)


def test_alpha_equals_krippendorff_and_aesthetics_is_highest(study):
    alphas = {}
    for rating in study.waves[0].ratings:
        direct = krippendorff.alpha(
            reliability_data=rating.values,
            level_of_measurement="ordinal",
            value_domain=range(1, 5),
        )
        alphas[rating.criterion] = ordinal_alpha(rating.values, 1, 4)
        assert alphas[rating.criterion] == pytest.approx(direct)
    assert max(alphas, key=alphas.get) == "aesthetics"
    np.testing.assert_allclose(alphas["aesthetics"], 0.335, atol=5e-4)
    np.testing.assert_allclose(
        [alphas["practicality"], alphas["accessibility"], alphas["inclusivity"]],
        [0.218, 0.217, 0.213],
        atol=5e-4,
    )


def test_report_on_real_data(study):
    report = compute_report(study, n_permutations=199, n_bootstrap=199, seed=0)
    json.dumps(report, allow_nan=False)
    criteria = {c["criterion"]: c for c in report["waves"][0]["criteria"]}
    assert criteria["aesthetics"]["alpha_ordinal"] == pytest.approx(0.335, abs=5e-4)
    assert report["waves"][0]["n_participants"] == 12
    for entry in criteria.values():
        assert 0 <= entry["pairwise_disagreement"] <= 1
        assert len(entry["sites"]) == 20


def test_the_two_disabled_raters_diverge_in_profile_on_practicality(study):
    """Their mean shift is small (level p ≈ 0.74), but they rate different streets differently:
    every one of the C(12, 2) = 66 pairs of raters is enumerated and none but them reaches
    their profile divergence, so p = 1/66, the smallest a group of 2 among 12 can reach."""
    from analytics.measures.divergence import divergence_test

    disabled = study.group_names.index("Disabled")
    practicality = study.waves[0].ratings[CRITERIA.index("practicality")].values
    members = study.memberships[:, [disabled]]
    result = divergence_test(practicality, members, 999, np.random.default_rng(0), min_tested=2)
    assert result.exact[0]
    assert result.profile_p_value[0] == pytest.approx(1 / 66) == result.min_p_value[0]
    assert result.p_value[0] > 0.5
    # With the default smallest tested group (3), two raters are too small to test.
    default = divergence_test(practicality, members, 999, np.random.default_rng(0))
    assert default.too_small[0] and np.isnan(default.profile_p_value[0])
