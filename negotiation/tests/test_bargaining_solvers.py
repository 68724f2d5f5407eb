"""MILP rules against brute-force enumeration, metrics by hand, MES sanity (no Django)."""

from __future__ import annotations

import numpy as np
import pytest

from negotiation.bargaining import parse_scenario
from negotiation.bargaining import solvers as sv
from negotiation.bargaining.mes import equal_shares
from negotiation.bargaining.outcome import _best_base_design, _reservation
from negotiation.bargaining.testing import random_scenario_dict
from negotiation.bargaining.utility import gini, metrics, p20, utilities

SEEDS = range(30)
TOL = 1e-6


def _problem(seed: int, **kw) -> sv.Problem:
    return sv.Problem(parse_scenario(random_scenario_dict(seed, **kw)))


def _brute_reservation(U: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Lower d uniformly until some feasible package reaches it (independent of the MILP)."""
    t = float((U - d).min(axis=1).max())
    return d + min(t, 0.0) if t < -1e-9 else d


@pytest.mark.parametrize("seed", SEEDS)
def test_utilitarian_and_egalitarian_match_brute_force(seed):
    prob = _problem(seed)
    X, U = sv.all_feasible(prob)
    total = U.sum(axis=1)
    assert prob.u(sv.utilitarian(prob)).sum() == pytest.approx(total.max(), abs=TOL)
    worst = U.min(axis=1)
    u_eg = prob.u(sv.egalitarian(prob))
    assert u_eg.min() == pytest.approx(worst.max(), abs=TOL)
    # Lexicographic tiebreak: the largest total among packages holding the best worst group.
    tied = worst >= worst.max() - sv.LEX_TOL
    assert u_eg.sum() == pytest.approx(total[tied].max(), abs=TOL)


@pytest.mark.parametrize("seed", SEEDS)
def test_best_for_each_group_matches_brute_force(seed):
    prob = _problem(seed)
    _, U = sv.all_feasible(prob)
    for g in range(prob.n_groups):
        assert prob.u(sv.best_for_group(prob, g))[g] == pytest.approx(U[:, g].max(), abs=TOL)


@pytest.mark.parametrize("seed", SEEDS)
def test_nash_matches_brute_force(seed):
    prob = _problem(seed, saturated_group=seed % 5 == 0)
    X, U = sv.all_feasible(prob)
    _, best_x = _best_base_design(prob)
    d, _ = _reservation(prob, prob.u(best_x))
    assert d == pytest.approx(_brute_reservation(U, prob.u(best_x)), abs=TOL)
    res = sv.nash(prob, d)
    assert res is not None and res.gap <= 1e-9 * max(1.0, abs(res.log_product))
    ok = (U >= d - 1e-9).all(axis=1)
    can_gain = [g for g in range(prob.n_groups) if U[ok, g].max() >= d[g] + sv.DELTA]
    gains = U[ok] - d
    # The product runs over the largest set of groups one package can lift together.
    most = int((gains[:, can_gain] >= sv.DELTA).sum(axis=1).max()) if can_gain else 0
    assert len(res.included) == most
    S = res.included
    assert set(S) <= set(can_gain)
    if S:
        rows = (gains[:, S] >= sv.DELTA).all(axis=1)
        brute = np.log(gains[rows][:, S]).sum(axis=1).max()
        assert res.log_product == pytest.approx(brute, abs=1e-6)
    _assert_pareto_optimal(prob, res.x, U)


def _assert_pareto_optimal(prob, x, U):
    u = prob.u(x)
    dominating = (U >= u - 1e-9).all(axis=1) & (U > u + 1e-7).any(axis=1)
    assert not dominating.any()


def test_saturated_group_does_not_zero_the_product():
    prob = _problem(3, saturated_group=True)
    d = prob.u(np.zeros(prob.n, dtype=bool))  # Status quo as disagreement point.
    res = sv.nash(prob, d)
    assert 0 in res.excluded  # Group 0 sits at the top of the scale on every criterion.
    assert res.included and np.isfinite(res.log_product)
    u = prob.u(res.x)
    assert np.all(u[res.included] > d[res.included])
    assert u[0] >= d[0] - 1e-9


def test_feasibility_under_aspirations():
    prob = _problem(7)
    _, U = sv.all_feasible(prob)
    target = U[np.argmax(U.sum(axis=1))]
    assert sv.feasible(prob, target - 1e-9)
    assert not sv.feasible(prob, U.max(axis=0) + 0.01)


def test_pins_and_forbids_are_respected_by_every_rule():
    s = parse_scenario(random_scenario_dict(11, n_interventions=8))
    free = [k for k in range(8) if s.costs[k] <= s.budget]
    pin = s.codes[free[0]]
    forbid = s.codes[free[1]]
    prob = sv.Problem(s, (pin,), (forbid,))
    for x in (sv.utilitarian(prob), sv.egalitarian(prob), equal_shares(prob)):
        assert x[s.index[pin]] and not x[s.index[forbid]]
    X, _ = sv.all_feasible(prob)
    assert X[:, s.index[pin]].all() and not X[:, s.index[forbid]].any()


@pytest.mark.parametrize("seed", range(10))
def test_equal_shares_is_affordable_and_respects_exclusions(seed):
    prob = _problem(seed)
    x = equal_shares(prob)
    assert prob.s.costs[x].sum() <= prob.s.budget + 1e-9
    assert not any(x[i] and x[j] for i, j in prob.s.exclusion_pairs)


TINY = {
    "title": "tiny",
    "budget": 10,
    "scale": {"min": 1, "max": 5},
    "criteria": ["a", "b"],
    "groups": [
        {"name": "g1", "criterion_weights": {"a": 1.0}, "baseline": {"a": 1, "b": 1}},
        {"name": "g2", "criterion_weights": {"a": 0.5, "b": 0.5}, "baseline": {"a": 2, "b": 2}},
        {"name": "g3", "criterion_weights": {"b": 1.0}, "baseline": {"a": 3, "b": 4.5}},
    ],
    "interventions": [
        {"code": "X", "name": "x", "cost": 4, "effects": {"a": 1.0, "b": 1.0}, "excludes": []},
    ],
    "base_designs": [],
}


def test_utilities_apply_the_cap():
    s = parse_scenario(TINY)
    u = utilities(s, np.array([True]))
    # g3: b = min(5, 4.5 + 1) = 5 — the cap binds.
    assert u == pytest.approx([2.0, 3.0, 5.0])
    assert utilities(s, np.array([False])) == pytest.approx([1.0, 2.0, 4.5])


def test_metrics_by_hand():
    u = np.array([1.0, 2.0, 3.0])
    # Σ|u_i − u_j| = 2·(1 + 2 + 1) = 8; 2·n²·mean = 2·9·2 = 36.
    assert gini(u) == pytest.approx(8 / 36)
    assert gini(np.array([2.0, 2.0])) == 0.0
    lo, hi = np.array([0.0, 1.0, 3.0]), np.array([2.0, 3.0, 3.0])
    # s = [0.5, 0.5, 1 (flat)]; P20 at position 0.4 between sorted 0.5 and 0.5 → 0.5.
    assert p20(u, lo, hi) == pytest.approx(0.5)
    lo2, hi2 = np.array([1.0, 0.0, 1.0]), np.array([3.0, 4.0, 5.0])
    # s = [0, 0.5, 0.5]; sorted [0, 0.5, 0.5]; position 0.4 → 0 + 0.4·0.5 = 0.2.
    assert p20(u, lo2, hi2) == pytest.approx(0.2)
    m = metrics(u, lo2, hi2)
    assert m == pytest.approx(
        {"total_utility": 6.0, "worst_group_utility": 1.0, "p20_satisfaction": 0.2, "gini": 8 / 36}
    )


def test_solves_side_by_side_give_what_they_give_one_after_the_other(monkeypatch):
    probs = [_problem(seed, n_interventions=14, n_groups=5) for seed in range(6)]
    calls = [lambda p=p, g=g: sv.best_for_group(p, g) for p in probs for g in range(p.n_groups)]
    monkeypatch.setattr(sv, "SOLVER_THREADS", 1)
    one_by_one = sv.in_parallel(calls)
    monkeypatch.setattr(sv, "SOLVER_THREADS", 4)
    side_by_side = sv.in_parallel(calls)
    assert [x.tolist() for x in side_by_side] == [x.tolist() for x in one_by_one]


def test_an_error_in_one_of_the_solves_side_by_side_reaches_the_caller(monkeypatch):
    monkeypatch.setattr(sv, "SOLVER_THREADS", 2)

    def fails():
        raise sv.SolverError("stopped")

    with pytest.raises(sv.SolverError, match="stopped"):
        sv.in_parallel([lambda: 1, fails, lambda: 3])


def test_threads_share_one_redirection_of_descriptor_1(capfd, monkeypatch):
    """Solves side by side swap descriptor 1 once: what C code prints meanwhile goes to standard
    error, and descriptor 1 is standard output again when the last one ends."""
    import os
    import threading

    monkeypatch.setattr(sv, "SOLVER_THREADS", 3)
    inside = threading.Barrier(3)

    def prints(i: int):
        with sv.solver_output_to_stderr():
            inside.wait(timeout=10)  # all three are inside the redirection at once
            os.write(1, f"solver line {i}\n".encode())
        return i

    assert sv.in_parallel([lambda i=i: prints(i) for i in range(3)]) == [0, 1, 2]
    os.write(1, b"after\n")
    out, err = capfd.readouterr()
    assert out == "after\n"
    assert sorted(err.splitlines()) == ["solver line 0", "solver line 1", "solver line 2"]
