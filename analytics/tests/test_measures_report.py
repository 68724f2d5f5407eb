"""compute_report: the report contract of docs/contracts.md, determinism, planted effects and edge cases."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from analytics.measures import RatingMatrix, StudyData, WaveData, compute_report, generate_study

nan = np.nan

CONTRACT = {
    "report": {"study", "scale", "waves", "longitudinal"},
    "scale": {"min", "max"},
    "wave": {"wave", "n_participants", "criteria", "rankings"},
    "criterion": {
        "criterion",
        "alpha_ordinal",
        "pairwise_disagreement",
        "between_group_variance",
        "within_group_variance",
        "between_group_share",
        "most_divergent_group",
        "groups",
    },
    "criterion_group": {
        "group",
        "n",
        "mean",
        "divergence",
        "p_value",
        "q_value",
        "significant",
        "alpha_ordinal",
    },
    "ranking": {"criterion", "kendall_w", "most_divergent_group", "groups"},
    "ranking_group": {"group", "n", "kendall_w", "consensus", "distance"},
    "longitudinal": {"criterion", "series", "changes"},
    "series": {"wave", "pairwise_disagreement", "ci_low", "ci_high", "between_group_share"},
    "change": {"from", "to", "delta", "p_value"},
}


@pytest.fixture(scope="module")
def study() -> StudyData:
    return generate_study(
        400,
        12,
        3,
        5,
        n_waves=2,
        effects={(0, 0): 1.0, (2, 1): -0.8},
        missing=0.1,
        n_ranking_criteria=2,
        n_items=6,
        seed=11,
        ranking_effects={(3, 0): 3.0},
    )


@pytest.fixture(scope="module")
def report(study) -> dict:
    return compute_report(study, n_permutations=299, n_bootstrap=299, seed=5)


def test_contract_keys_and_json(report):
    assert CONTRACT["report"] <= report.keys()
    assert CONTRACT["scale"] <= report["scale"].keys()
    assert report["parameters"] == {"n_permutations": 299, "n_bootstrap": 299, "seed": 5, "min_tested": 3}
    for wave in report["waves"]:
        assert CONTRACT["wave"] <= wave.keys()
        for criterion in wave["criteria"]:
            assert CONTRACT["criterion"] <= criterion.keys()
            for group in criterion["groups"]:
                assert CONTRACT["criterion_group"] <= group.keys()
            assert {"site", "mean", "worst_group", "worst_group_mean", "group_means"} <= (criterion["sites"][0].keys())
        for ranking in wave["rankings"]:
            assert CONTRACT["ranking"] <= ranking.keys()
            for group in ranking["groups"]:
                assert CONTRACT["ranking_group"] <= group.keys()
        assert wave["consistency"] and "discordance" in wave["consistency"][0]
    for entry in report["longitudinal"]:
        assert CONTRACT["longitudinal"] <= entry.keys()
        assert all(CONTRACT["series"] <= s.keys() for s in entry["series"])
        assert all(CONTRACT["change"] <= c.keys() for c in entry["changes"])
        assert len(entry["groups"]) == 5
        assert all(CONTRACT["series"] <= s.keys() for g in entry["groups"] for s in g["series"])
    text = json.dumps(report, allow_nan=False)
    assert "NaN" not in text


def _walk(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)
    else:
        yield value


def test_only_plain_python_values(report):
    assert all(type(v) in (str, int, float, bool, type(None)) for v in _walk(report))


def test_deterministic_for_same_seed(study, report):
    again = compute_report(study, n_permutations=299, n_bootstrap=299, seed=5)
    assert json.dumps(again, sort_keys=True) == json.dumps(report, sort_keys=True)
    other = compute_report(study, n_permutations=299, n_bootstrap=299, seed=6)
    assert json.dumps(other, sort_keys=True) != json.dumps(report, sort_keys=True)


def test_planted_groups_are_the_most_divergent(report):
    for wave in report["waves"]:
        criteria = wave["criteria"]
        assert criteria[0]["most_divergent_group"] == "group 1"
        assert criteria[1]["most_divergent_group"] == "group 3"
        assert criteria[2]["most_divergent_group"] is None
        group1 = criteria[0]["groups"][0]
        assert group1["significant"] and group1["divergence"] > 0.5
        assert criteria[1]["groups"][2]["divergence"] < -0.4
        assert wave["rankings"][0]["most_divergent_group"] == "group 4"


def test_q_values_are_bh_over_the_whole_wave(report):
    from analytics.measures import benjamini_hochberg

    for wave in report["waves"]:
        cells = [g for c in wave["criteria"] for g in c["groups"]]
        p = np.array([nan if g["p_value"] is None else g["p_value"] for g in cells])
        q = benjamini_hochberg(p)
        got = np.array([nan if g["q_value"] is None else g["q_value"] for g in cells])
        np.testing.assert_allclose(got, q)
        assert all(g["significant"] == (g["q_value"] is not None and g["q_value"] <= 0.05) for g in cells)


def test_second_wave_within_falls_between_holds(report):
    first, second = (w["criteria"][0] for w in report["waves"])
    assert second["within_group_variance"] < 0.6 * first["within_group_variance"]
    assert second["between_group_variance"] == pytest.approx(first["between_group_variance"], rel=0.3)
    change = report["longitudinal"][0]["changes"][0]
    assert change["from"] == "wave 1" and change["to"] == "wave 2"
    assert change["delta"] < 0 and change["p_value"] <= 0.01


def test_progress_is_reported_and_ends_at_one(study):
    seen: list[float] = []
    compute_report(study, n_permutations=19, n_bootstrap=19, progress=seen.append)
    assert seen and seen[-1] == 1.0
    assert all(0.0 <= f <= 1.0 for f in seen)
    assert seen == sorted(seen)


def test_sites_and_small_edge_cases_by_hand():
    # Three participants; "a" = {0, 1}, "b" = {2}, "c" = nobody. One wave has a criterion the
    # other lacks, and one participant skipped the second wave.
    first = np.array([[4, 1], [2, nan], [1, 3]], dtype=float)
    second = np.array([[3, 2], [3, 2], [nan, nan]], dtype=float)
    data = StudyData(
        slug="tiny",
        scale_min=1,
        scale_max=4,
        group_names=("a", "b", "c"),
        memberships=np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0]], dtype=bool),
        site_codes=("s1", "s2"),
        waves=(
            WaveData("w1", (RatingMatrix("x", first), RatingMatrix("y", first))),
            WaveData("w2", (RatingMatrix("x", second),)),
        ),
    )
    report = compute_report(data, n_permutations=50, n_bootstrap=50)
    json.dumps(report, allow_nan=False)
    x = report["waves"][0]["criteria"][0]
    assert x["sites"][0] == {
        "site": "s1",
        "n": 3,
        "mean": pytest.approx(7 / 3),
        "worst_group": "b",
        "worst_group_mean": 1.0,
        "group_means": {"a": 3.0, "b": 1.0, "c": None},
    }
    assert x["sites"][1]["worst_group"] == "a"
    groups = {g["group"]: g for g in x["groups"]}
    assert groups["a"]["divergence"] == pytest.approx(((3 - 1) + (1 - 3)) / 2)
    assert groups["b"]["divergence"] is None and groups["b"]["significant"] is False
    assert groups["c"]["n"] == 0 and groups["c"]["mean"] is None
    assert report["waves"][1]["n_participants"] == 2
    longitudinal = {e["criterion"]: e for e in report["longitudinal"]}
    assert [s["wave"] for s in longitudinal["y"]["series"]] == ["w1"]
    assert longitudinal["y"]["changes"] == []
    assert longitudinal["x"]["changes"][0]["n_paired"] == 2


def test_measures_package_never_imports_django():
    root = Path(__file__).resolve().parents[2]
    code = (
        "import sys; import analytics.measures as m; "
        "assert not any(k == 'django' or k.startswith('django.') for k in sys.modules), 'django'"
    )
    env = {"PYTHONPATH": str(root), "PATH": ""}
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root, env=env)
    for source in (root / "analytics" / "measures").glob("*.py"):
        assert "import django" not in source.read_text()
        assert "from django" not in source.read_text()
