"""Opinion groups: planted groups are found, identity that explains nothing scores AMI ≈ 0,
the numbering is deterministic, and too little data says so instead of clustering noise."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.metrics import adjusted_rand_score

from analytics.measures import RatingMatrix, StudyData, WaveData, compute_report
from analytics.measures.opinion import (
    NO_VARIATION,
    TOO_FEW,
    cluster,
    identity_labels,
    opinion_groups,
    project,
    representative_items,
)
from analytics.measures.opinion_synthetic import planted_opinions

SHARES = (0.45, 0.35, 0.20)
GROUPS = ("Wheelchair users", "Aînés 65+", "LGBTQIA2+", "Newcomers")


def _wave(planted, n_sites: int = 20, n_criteria: int = 4) -> list[tuple[str, np.ndarray]]:
    """The planted items split into criteria of n_sites columns each, as a wave holds them."""
    return [(f"criterion {c + 1}", planted.values[:, c * n_sites : (c + 1) * n_sites]) for c in range(n_criteria)]


@pytest.fixture(scope="module")
def planted():
    return planted_opinions(900, 80, shares=SHARES, n_declared=len(GROUPS), seed=7)


@pytest.fixture(scope="module")
def result(planted):
    sites = tuple(f"Rue {i + 1}" for i in range(20))
    return opinion_groups(_wave(planted), planted.memberships, GROUPS, sites, seed=0)


def test_it_finds_three_planted_opinion_groups_of_the_planted_sizes(result):
    assert result["k"] == 3
    sizes = sorted((g["n"] for g in result["groups"]), reverse=True)
    total = sum(sizes)
    for size, share in zip(sizes, SHARES, strict=True):
        assert abs(size / total - share) <= 0.05


def test_it_recovers_who_is_in_which_planted_group(planted):
    found = cluster(planted.values, seed=0)
    assert adjusted_rand_score(planted.truth[found.rows], found.labels) > 0.95


def test_declared_groups_independent_of_opinion_score_an_ami_near_zero(result):
    assert abs(result["adjusted_mutual_information"]) < 0.02


def test_declared_groups_that_are_the_opinion_groups_score_an_ami_near_one(planted):
    memberships = np.eye(3, dtype=bool)[planted.truth]
    sites = tuple(f"s{i}" for i in range(20))
    found = opinion_groups(_wave(planted), memberships, ("a", "b", "c"), sites, seed=0)
    assert found["adjusted_mutual_information"] > 0.95


def test_the_overlap_table_counts_members_of_both(planted, result):
    found = cluster(planted.values, seed=0)
    members = planted.memberships[found.rows]
    for cell in result["declared_overlap"]:
        d = GROUPS.index(cell["group"])
        expected = int((members[:, d] & (found.labels == cell["opinion_group"] - 1)).sum())
        assert cell["n"] == expected
    assert len(result["declared_overlap"]) == len(GROUPS) * 3


def test_groups_are_numbered_by_size_largest_first(result):
    assert [g["id"] for g in result["groups"]] == [1, 2, 3]
    sizes = [g["n"] for g in result["groups"]]
    assert sizes == sorted(sizes, reverse=True)


def test_the_same_data_and_seed_give_the_same_result(planted, result):
    sites = tuple(f"Rue {i + 1}" for i in range(20))
    again = opinion_groups(_wave(planted), planted.memberships, GROUPS, sites, seed=0)
    assert again == result


def test_the_numbering_does_not_depend_on_the_order_participants_come_in(planted):
    order = np.random.default_rng(1).permutation(len(planted.truth))
    first = cluster(planted.values, seed=0)
    shuffled = cluster(planted.values[order], seed=0)
    # Each planted group gets the same id whichever order the rows were read in.
    for truth in range(3):
        ids_first = set(first.labels[planted.truth[first.rows] == truth])
        ids_shuffled = set(shuffled.labels[planted.truth[order][shuffled.rows] == truth])
        assert ids_first == ids_shuffled and len(ids_first) == 1


def test_representative_items_are_where_a_group_rates_most_unlike_the_others(result, planted):
    for group in result["groups"]:
        assert len(group["representative"]) == 3
        for item in group["representative"]:
            assert abs(item["mean"] - item["others_mean"]) > 1.0
            assert item["site"].startswith("Rue ") and item["criterion"].startswith("criterion ")


def test_representative_means_equal_the_plain_means_of_members_and_others():
    values = np.array([[1, 5], [1, 5], [2, 4], [5, 1], [4, np.nan], [5, 2]], dtype=float)
    labels = np.array([0, 0, 0, 1, 1, 1])
    chosen = representative_items(values, labels, 2, top=2)
    j, mean, others, n_in, n_out = chosen[0][0]
    assert_allclose([mean, others], [values[:3, j].mean(), np.nanmean(values[3:, j])])
    assert (n_in, n_out) == (3, int((~np.isnan(values[3:, j])).sum()))


def test_centred_imputation_puts_a_missing_rating_at_the_column_mean():
    values = np.array([[1.0, 1.0], [3.0, 3.0], [2.0, np.nan], [5.0, 5.0]])
    complete = values.copy()
    complete[2, 1] = np.mean([1.0, 3.0, 5.0])
    # One rating of two missing: the projection is scaled by sqrt(2 / 1).
    projected, _ = project(values)
    reference, _ = project(complete)
    assert_allclose(np.abs(projected[[0, 1, 3]]), np.abs(reference[[0, 1, 3]]), atol=1e-9)
    assert_allclose(np.abs(projected[2]), np.abs(reference[2]) * np.sqrt(2), atol=1e-9)


def test_it_says_when_there_are_too_few_participants():
    values = np.random.default_rng(0).integers(1, 6, size=(6, 10)).astype(float)
    assert cluster(values) == TOO_FEW
    found = opinion_groups([("c", values)], np.zeros((6, 1), bool), ("g",), tuple("abcdefghij"))
    assert found["k"] is None and found["reason"] == TOO_FEW and found["groups"] == []


def test_it_says_when_everyone_rated_alike():
    values = np.full((30, 8), 3.0)
    assert cluster(values) == NO_VARIATION


def test_participants_with_too_few_ratings_are_left_out():
    planted = planted_opinions(200, 40, missing=0.0, seed=2)
    values = planted.values.copy()
    values[:10, 3:] = np.nan  # three ratings each: fewer than seven
    found = cluster(values, seed=0)
    assert found.rows.min() == 10 and len(found.rows) == 190


def test_identity_is_the_exact_set_of_declared_groups():
    members = np.array([[1, 0], [1, 1], [0, 0], [1, 1], [1, 0]], dtype=bool)
    labels = identity_labels(members)
    assert labels[0] == labels[4] and labels[1] == labels[3] and len(set(labels)) == 3


def test_the_map_sample_is_bounded_and_names_declared_groups_by_index(result, planted):
    points = result["points"]
    assert points["n"] == len(points["x"]) == len(points["y"]) == len(points["opinion_group"])
    assert set(points["opinion_group"]) == {1, 2, 3}
    assert all(set(d) <= set(range(len(GROUPS))) for d in points["declared"])


def test_every_wave_of_the_report_has_its_opinion_groups(planted):
    ratings = tuple(RatingMatrix(name, m) for name, m in _wave(planted))
    data = StudyData(
        slug="planted",
        scale_min=1,
        scale_max=5,
        group_names=GROUPS,
        memberships=planted.memberships,
        site_codes=tuple(f"s{i}" for i in range(20)),
        waves=(WaveData("before", ratings), WaveData("after", ratings)),
    )
    report = compute_report(data, n_permutations=19, n_bootstrap=19, seed=0)
    for wave in report["waves"]:
        entry = wave["opinion_groups"]
        assert {"k", "silhouette", "groups", "declared_overlap", "adjusted_mutual_information"} <= set(entry)
        assert entry["k"] == 3
        assert {"id", "n", "representative"} <= set(entry["groups"][0])
        assert {"site", "criterion", "mean", "others_mean"} <= set(entry["groups"][0]["representative"][0])
        assert {"group", "opinion_group", "n"} == set(entry["declared_overlap"][0])
