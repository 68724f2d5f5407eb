"""The negotiation session end to end: guarantees, determinism, edge cases (no Django)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from negotiation.bargaining import ScenarioError, parse_scenario, run_negotiation
from negotiation.bargaining import solvers as sv
from negotiation.bargaining.testing import random_scenario_dict

DATA = Path(__file__).parent / "data" / "small_scenario.json"
ROUND_KEYS = {"round", "proposal", "cost", "utilities", "aspirations", "responses"}
PACKAGE_KEYS = {"interventions", "cost", "utilities", "metrics"}
METRIC_KEYS = {"total_utility", "worst_group_utility", "p20_satisfaction", "gini"}


def _small() -> dict:
    return json.loads(DATA.read_text())


def _pins(seed: int, s) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Every third seed pins one affordable intervention and forbids another."""
    if seed % 3:
        return (), ()
    affordable = [c for c, cost in zip(s.codes, s.costs, strict=True) if cost <= s.budget]
    return tuple(affordable[:1]), tuple(affordable[1:2])


@pytest.mark.parametrize("seed", range(15))
def test_negotiated_package_guarantees(seed):
    s = parse_scenario(random_scenario_dict(seed))
    pinned, forbidden = _pins(seed, s)
    out = run_negotiation(s, pinned=pinned, forbidden=forbidden)
    pkg = out["package"]
    assert PACKAGE_KEYS <= set(pkg) and METRIC_KEYS == set(pkg["metrics"])
    assert set(pinned) <= set(pkg["interventions"])
    assert not set(forbidden) & set(pkg["interventions"])
    for r in out["rounds"]:
        assert ROUND_KEYS <= set(r)
        assert set(r["responses"]) == set(s.group_names)
    if not out["agreement"]:
        assert pkg["interventions"] == out["best_base_design"]["interventions"]
        return
    x = s.mask(pkg["interventions"])
    assert s.costs[x].sum() <= s.budget + 1e-9
    assert not any(x[i] and x[j] for i, j in s.exclusion_pairs)
    u = np.array([pkg["utilities"][g] for g in s.group_names])
    reservation = np.array([out["reservations"][g] for g in s.group_names])
    assert np.all(u >= reservation - 1e-6)
    best = out["best_base_design"]
    best_x = s.mask(best["interventions"])
    attainable = (
        best["within_budget"]
        and best["respects_exclusions"]
        and set(pinned) <= set(best["interventions"])
        and not set(forbidden) & set(best["interventions"])
    )
    if attainable:
        assert pkg["metrics"]["worst_group_utility"] >= best["metrics"]["worst_group_utility"] - 1e-6
        assert np.all(u >= sv.Problem(s).u(best_x) - 1e-6)
    # Pareto-optimal among feasible packages (brute force).
    _, U = sv.all_feasible(sv.Problem(s, pinned, forbidden))
    u_exact = sv.Problem(s).u(x)
    dominating = (U >= u_exact - 1e-9).all(axis=1) & (U > u_exact + 1e-7).any(axis=1)
    assert not dominating.any()


def test_transcript_is_deterministic_and_streamed():
    s = parse_scenario(random_scenario_dict(4, max_rounds=10))
    seen: list[dict] = []
    first = run_negotiation(s, on_round=seen.append)
    second = run_negotiation(s)
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    assert seen == first["rounds"]


def test_small_scenario_beats_best_base_design():
    out = run_negotiation(parse_scenario(_small()))
    json.dumps(out, allow_nan=False)  # Serialisable, no NaN.
    assert out["agreement"] is True
    assert out["best_base_design"]["name"] == "Mobility first"
    new, old = out["package"]["metrics"], out["best_base_design"]["metrics"]
    assert new["worst_group_utility"] > old["worst_group_utility"]
    assert new["total_utility"] >= old["total_utility"]
    assert new["p20_satisfaction"] >= old["p20_satisfaction"]
    assert new["gini"] <= old["gini"]
    assert set(out["references"]) == {"utilitarian", "egalitarian", "nash", "equal_shares"}
    assert out["explanation"] and out["concession_schedule"]["kind"] == "linear"
    rejected = [resp for r in out["rounds"] for resp in r["responses"].values() if not resp["accept"]]
    assert rejected and all("concedes" in r["reason"] for r in rejected)
    assert all(
        any(c in r["reason"] for c in ("accessibility", "inclusivity", "aesthetics", "practicality")) for r in rejected
    )


def test_round_limit_falls_back_to_best_base_design():
    doc = _small()
    doc["max_rounds"] = 1
    out = run_negotiation(parse_scenario(doc))
    assert out["agreement"] is False and len(out["rounds"]) == 1
    assert out["package"]["interventions"] == out["best_base_design"]["interventions"]
    assert "No agreement" in out["explanation"]


def test_budget_below_every_intervention_gives_status_quo():
    doc = _small()
    doc["budget"] = 5
    out = run_negotiation(parse_scenario(doc))
    assert out["agreement"] is False and out["rounds"] == []
    assert out["package"]["interventions"] == [] and out["package"]["cost"] == 0
    assert out["package"]["utilities"] == out["status_quo"]["utilities"]
    assert "status quo" in out["explanation"] and "budget" in out["explanation"]


def test_saturated_group_still_reaches_agreement():
    s = parse_scenario(random_scenario_dict(3, saturated_group=True, max_rounds=8))
    out = run_negotiation(s)
    assert out["agreement"] is True
    solver = out["references"]["nash"]["solver"]
    # Group 0 sits at the top of the scale; whether it can still gain depends on the base
    # design (negative effects), but it never zeroes the product.
    assert solver["groups_in_product"] and np.isfinite(solver["log_product"])
    assert out["package"]["utilities"]["group 0"] >= out["reservations"]["group 0"] - 1e-6


@pytest.mark.parametrize(
    ("pinned", "forbidden", "message"),
    [
        (("NOPE",), (), 'pinned: unknown intervention "NOPE"'),
        ((), ("NOPE",), 'forbidden: unknown intervention "NOPE"'),
        (("RAMP",), ("RAMP",), "also forbidden"),
        (("PAVE", "COBB"), (), "exclude each other"),
        (("PLAZA", "COBB", "PAVE"), (), "exceeds the budget"),
    ],
)
def test_bad_pins_are_rejected(pinned, forbidden, message):
    with pytest.raises(ScenarioError) as exc:
        run_negotiation(parse_scenario(_small()), pinned=pinned, forbidden=forbidden)
    assert any(message in e for e in exc.value.errors)


def test_pins_forbids_shape_the_package():
    s = parse_scenario(_small())
    out = run_negotiation(s, pinned=("TREE",), forbidden=("RAMP",))
    assert "TREE" in out["package"]["interventions"]
    assert "RAMP" not in out["package"]["interventions"]
    for ref in out["references"].values():
        assert "TREE" in ref["interventions"] and "RAMP" not in ref["interventions"]


def test_input_document_is_not_mutated():
    doc = _small()
    before = copy.deepcopy(doc)
    run_negotiation(parse_scenario(doc))
    assert doc == before
