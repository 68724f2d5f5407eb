"""Pseudonyms and small-cell protection, without a database."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from exports.anonymity import memberships_generalise, pseudonymise, pseudonyms_make


def _cells(result) -> Counter:
    return Counter(result.memberships.values())


def test_pseudonyms_are_hmac_codes_that_change_with_every_key():
    first = pseudonyms_make(["P1", "P2", "P3"])
    second = pseudonyms_make(["P1", "P2", "P3"])
    assert all(v.startswith("R") and len(v) == 17 for v in first.values())
    assert len(set(first.values())) == 3
    assert not set(first.values()) & set(second.values())
    assert pseudonymise("P1", b"k" * 32) == pseudonymise("P1", b"k" * 32)


def test_it_drops_the_rarest_group_and_suppresses_the_complementary_cell():
    plan = {
        **{i: {"senior"} for i in range(6)},
        **{i: {"disabled"} for i in range(6, 11)},
        11: {"senior", "disabled"},
        12: {"senior", "disabled"},
        13: {"lgbtqia2"},
        14: set(),
    }
    result = memberships_generalise(plan, 5)
    assert set(_cells(result).values()) == {5}
    # {senior, disabled} loses `disabled` (7 members against senior's 8); {lgbtqia2} loses its
    # only group; then three seniors are cleared so that "no group" reaches 5 — first the two
    # already generalised, so only four participants are touched in all.
    assert result.removed == {"disabled": 2, "lgbtqia2": 1, "senior": 3}
    assert (result.generalised, result.suppressed, result.affected) == (0, 4, 4)
    assert result.memberships[11] == result.memberships[12] == frozenset()


def test_nothing_changes_when_every_cell_is_large_enough():
    plan = {i: {"a"} if i < 5 else {"a", "b"} for i in range(10)}
    result = memberships_generalise(plan, 5)
    assert result.memberships == {i: frozenset(g) for i, g in plan.items()}
    assert result.affected == 0 and result.removed == {}


def test_too_few_participants_clears_everything_and_says_k_is_unreachable():
    result = memberships_generalise({1: {"a"}, 2: {"b"}, 3: set()}, 5)
    assert set(result.memberships.values()) == {frozenset()}
    assert result.k_reachable is False


@pytest.mark.parametrize("seed", range(30))
def test_every_combination_reaches_k_on_random_overlapping_memberships(seed):
    rng = random.Random(seed)
    k = rng.choice([2, 3, 5, 11])
    groups = [f"g{i}" for i in range(rng.randint(1, 7))]
    n = rng.randint(k, 300)
    plan = {i: {g for g in groups if rng.random() < rng.choice([0.05, 0.2, 0.5])} for i in range(n)}
    result = memberships_generalise(plan, k)
    assert min(_cells(result).values()) >= k
    for i, groups_after in result.memberships.items():
        assert groups_after <= plan[i]  # generalising only ever removes memberships
    assert sum(result.removed.values()) == sum(len(plan[i] - result.memberships[i]) for i in plan)
